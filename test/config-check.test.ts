/**
 * Each case of issue 10's "config check says ok to settings run then rejects or ignores": config check
 * (the same loader as run) must reject it with one line naming the key, the value, where it came from
 * and what is allowed.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config/load.js';
import type { LogLevel } from '../src/core/log.js';
import { ROOT, runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-config-check-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function writeConfig(content: unknown): string {
  const file = path.join(tmp, `c${++n}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** The ConfigError lines of loading this file (with no environment), or [] when it loads. */
function problems(content: unknown, env: NodeJS.ProcessEnv = {}): { file: string; lines: string[] } {
  const file = writeConfig(content);
  try {
    loadConfig({ file, fileRequired: true, env });
    return { file, lines: [] };
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return { file, lines: err.message.split('\n') };
  }
}

function assertOneLine(lines: string[], pattern: RegExp): void {
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], pattern);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

test('deviceId with a space, / + or #: rejected, naming key, value, file and the rule', () => {
  const { file, lines } = problems({ deviceId: 'shop door/1+#' });
  assertOneLine(lines, new RegExp(`^config: deviceId = "shop door/1\\+#" \\(in ${esc(file)}\\): may only contain letters, digits, _ and -`));
});

test('a topic prefix with a wildcard or an empty level is rejected (mqtt.prefix and mqtt.discoveryPrefix)', () => {
  assertOneLine(problems({ mqtt: { prefix: 'a/#' } }).lines, /^config: mqtt\.prefix = "a\/#" \(in .*\): must not contain the MQTT wildcards \+ or #/);
  assertOneLine(problems({ mqtt: { discoveryPrefix: 'home//assistant' } }).lines, /^config: mqtt\.discoveryPrefix = "home\/\/assistant" .*empty levels/);
  assertOneLine(problems({ mqtt: { prefix: 'shop floor' } }).lines, /mqtt\.prefix = "shop floor" .*must not contain spaces/);
  assert.deepEqual(problems({ mqtt: { prefix: 'site/shop', discoveryPrefix: 'homeassistant' } }).lines, []);
});

test('broker URLs: no scheme separator, a scheme that is not MQTT, a port out of range', () => {
  assertOneLine(problems({ mqtt: { url: 'http//broker' } }).lines, /^config: mqtt\.url = "http\/\/broker" \(in .*\): must be a broker URL such as mqtt:\/\/broker:1883/);
  assertOneLine(problems({ mqtt: { url: 'ftp://broker.lan' } }).lines, /^config: mqtt\.url = "ftp:\/\/broker\.lan" .*scheme ftp is not one of mqtt, mqtts, ws, wss/);
  assertOneLine(problems({ mqtt: { url: 'mqtt://broker.lan:99999' } }).lines, /^config: mqtt\.url = "mqtt:\/\/broker\.lan:99999" .*port 99999 is not 1-65535/);
  assertOneLine(problems({ mqtt: { url: 'mqtt://broker.lan:0' } }).lines, /port 0 is not 1-65535/);
  assertOneLine(problems({ mqtt: { url: 'mqtts:broker' } }).lines, /has no host/);
  for (const url of ['mqtt://broker.lan', 'mqtts://10.0.0.2:8883', 'wss://ha.example/mqtt', 'ws://[::1]:9001']) assert.deepEqual(problems({ mqtt: { url } }).lines, [], url);
});

test('one GPIO line used for two outputs is one error naming both keys and where each came from', () => {
  const { file, lines } = problems({ signals: { red: 17 } });
  assertOneLine(lines, new RegExp(`^config: signals\\.green = 17 \\(the default\\) and signals\\.red = 17 \\(in ${esc(file)}\\) are the same GPIO line`));
  assertOneLine(problems({ signals: { green: 'GPIO5', buzzer: 'GPIO5' } }).lines, /signals\.green = "GPIO5" .* and signals\.buzzer = "GPIO5" .* are the same GPIO line/);
  assert.deepEqual(problems({ signals: { buzzer: null, red: 5 } }).lines, []);
});

test('a modelDir that does not exist, or has no model card, is rejected', () => {
  assertOneLine(problems({ classifier: { modelDir: path.join(tmp, 'no-model') } }).lines, /^config: classifier\.modelDir = ".*no-model" \(in .*\): .*no-model: no such folder$/);
  const empty = path.join(tmp, 'empty-model');
  fs.mkdirSync(empty);
  assertOneLine(problems({ classifier: { modelDir: empty } }).lines, /classifier\.modelDir = .*: .*empty-model: no model-card\.json in it$/);
  // a card without an int8 file runs in float (the classifier warns), but the file it names must be there
  fs.writeFileSync(path.join(empty, 'model-card.json'), JSON.stringify({ files: { float: { path: 'classifier.onnx' } } }));
  assertOneLine(problems({ classifier: { modelDir: empty } }).lines, /classifier\.modelDir = .* with classifier\.precision = "auto" \(the default\): .*empty-model\/classifier\.onnx \(files\.float of the model card\) is missing$/);
  fs.writeFileSync(path.join(empty, 'classifier.onnx'), 'placeholder: the daemon checks its sha256');
  assert.deepEqual(problems({ classifier: { modelDir: empty } }).lines, []);
  // the default (relative) model folder is found from any working directory, as predict always did
  const cwd = process.cwd();
  process.chdir(tmp);
  try {
    assert.equal(loadConfig({ env: {} }).config.classifier.modelDir, path.join(ROOT, 'models/maskwatch-default'));
  } finally {
    process.chdir(cwd);
  }
});

test('a dotted key in a file ("signals.activeLow": true, as docs/HARDWARE.md used to write it) is rejected with the nested form', () => {
  const { file, lines } = problems({ 'signals.activeLow': true });
  assertOneLine(lines, new RegExp(`^config: "signals\\.activeLow" in ${esc(file)} is a dotted key, .*nest it: \\{"signals": \\{"activeLow": true\\}\\}$`));
  assert.doesNotMatch(fs.readFileSync(path.join(ROOT, 'docs/HARDWARE.md'), 'utf8'), /`"signals\.\w+": /, 'docs/HARDWARE.md still writes a dotted key');
  assert.equal(loadConfig({ file: writeConfig({ signals: { activeLow: true } }), env: {} }).config.signals.activeLow, true);
});

test('"no", "off" and "0" never become true: in a file they are errors; from the environment "0" is false and "no" an error', () => {
  for (const text of ['no', 'off', '0', 'yes', 'true']) {
    assertOneLine(problems({ signals: { activeLow: text } }).lines, new RegExp(`^config: signals\\.activeLow = "${text}" \\(in .*\\): must be true or false`));
  }
  const fromEnv = (text: string) => loadConfig({ env: { MASKWATCH_MQTT_ENABLED: text } }).config.mqtt.enabled;
  assert.equal(fromEnv('0'), false);
  assert.equal(fromEnv('false'), false);
  assert.equal(fromEnv('1'), true);
  for (const text of ['no', 'off', 'False ', '']) {
    assert.throws(() => fromEnv(text), new RegExp(`config: mqtt\\.enabled = "${text}" \\(from environment variable MASKWATCH_MQTT_ENABLED\\): must be true or false`));
  }
});

test('an error from MASKWATCH_CAMERA names the variable; a flag names the flag', () => {
  assert.throws(
    () => loadConfig({ env: { MASKWATCH_CAMERA: 'rtsp://cam' } }),
    /config: camera\.source = "rtsp:\/\/cam" \(from environment variable MASKWATCH_CAMERA\): must be one of: auto, demo/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { 'camera.source': `file:${tmp}/none.mp4` }, flagNames: { 'camera.source': '--camera' } }),
    /config: camera\.source = "file:.*none\.mp4" \(from flag --camera\): .*none\.mp4: no such file or folder/,
  );
});

test('broken JSON gives the line and column', () => {
  const { file, lines } = problems('{\n  "camera": {\n    "source": "demo"\n    "fps": 10\n  }\n}\n');
  assertOneLine(lines, new RegExp(`^config ${esc(file)}:4:5: not valid JSON at line 4, column 5: "," expected`));
  assert.doesNotMatch(lines[0], /position/);
  assertOneLine(problems('{"camera": {"fps": 10,}}').lines, /:1:23: .*a trailing comma\?/);
});

test('a misspelt key gets "did you mean", also under the wrong group', () => {
  assertOneLine(problems({ camera: { sorce: 'demo' } }).lines, /^config: unknown key 'camera\.sorce' in .*c\d+\.json \(did you mean 'camera\.source'\?\)$/);
  assertOneLine(problems({ mqtt: { discoveryprefix: 'ha' } }).lines, /unknown key 'mqtt\.discoveryprefix' in .* \(did you mean 'mqtt\.discoveryPrefix'\?\)$/);
  assertOneLine(problems({ camera: { activeLow: true } }).lines, /unknown key 'camera\.activeLow' in .* \(did you mean 'signals\.activeLow'\?\)$/);
  assertOneLine(problems({ sigals: { green: 5 } }).lines, /unknown key 'sigals' in .* \(did you mean 'signals'\?\)$/);
  assertOneLine(problems({ zzz: 1 }).lines, /unknown key 'zzz' in .* \(docs\/CONFIG\.md lists the keys\)$/);
});

test('every problem of a file is reported at once, one line each', () => {
  const { lines } = problems({ deviceId: 'a b', camera: { fps: 0, sauce: 1 }, mqtt: { url: 'ftp://x' } });
  assert.equal(lines.length, 4, lines.join('\n'));
});

test('the typed config: enum keys keep their literal unions (no casts needed)', () => {
  const { config } = loadConfig({ env: {} });
  const level: LogLevel = config.log.level;
  const variant: 'ssd' | 'front' | 'back' = config.detector.model;
  const precision: 'auto' | 'int8' | 'float' = config.classifier.precision;
  const version: 4 | 5 = config.mqtt.protocolVersion;
  assert.deepEqual([level, variant, precision, version], ['info', 'ssd', 'auto', 5]);
});

test('config check with no file says what it checked, not "<file>: ok"; run and check reject the same settings alike', async () => {
  const defaultFile = '/etc/maskwatch/config.json';
  assert.ok(!fs.existsSync(defaultFile), `${defaultFile} exists on this machine: this test needs it absent`);
  const ok = await runCli(['config', 'check'], { env: { MASKWATCH_CAMERA: 'demo' } });
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stdout, /config\.json: ok/);
  assert.match(ok.stdout, /^config ok \(defaults; no file at \/etc\/maskwatch\/config\.json; environment MASKWATCH_CAMERA; flags \(none\)\): device \S+, camera demo/);

  const bad = writeConfig({ deviceId: 'shop door/1+#', signals: { amber: 27 } });
  const check = await runCli(['config', 'check', '--config', bad, '--no-mqtt']);
  const run = await runCli(['run', '--config', bad, '--no-mqtt', '--exit-after-ms', '1']);
  assert.equal(check.code, 1);
  assert.equal(run.code, 2);
  assert.equal(check.stderr.trim().split('\n').length, 2, check.stderr);
  assert.equal(run.stderr, check.stderr, 'run and config check print the same problems');
  const flag = await runCli(['config', 'check', '--mqtt-url', 'mqtt://broker:99999']);
  assert.match(flag.stderr, /^config: mqtt\.url = "mqtt:\/\/broker:99999" \(from flag --mqtt-url\): port 99999/);
});

test('config print redacts the password inside mqtt.url; config/example.json passes config check', async () => {
  const file = writeConfig({ mqtt: { url: 'mqtt://alice:s3cret-in-url@broker.lan:1883' } });
  const r = await runCli(['config', 'print', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).mqtt.url, 'mqtt://alice:***@broker.lan:1883');
  assert.ok(!r.stdout.includes('s3cret-in-url'));
  const example = await runCli(['config', 'check', '--config', path.join(ROOT, 'config/example.json')]);
  assert.equal(example.code, 0, example.stderr);
  assert.match(example.stdout, /^config ok \(defaults; file .*config\/example\.json; .*camera auto/);
});

test('a password never shows in a problem line: inside a URL URL() rejects, in a broken file, as an object or a group', async () => {
  const secret = 'Hunter2pw';
  const cases: Array<[string, () => string[]]> = [];
  for (const url of [`mqtt://bob:${secret}/x@broker:1883`, `mqtt://bob:${secret}#x@broker:1883`, `mqtt://bob:${secret}?x@broker:1883`, `bob:${secret}@broker:1883`, `mqtt:bob:${secret}@broker:1883`]) {
    cases.push([`env ${url}`, () => problems({}, { MASKWATCH_MQTT_URL: url }).lines]);
  }
  cases.push(['a broken file', () => problems(`{\n  "mqtt": {\n    "password": '${secret}'\n  }\n}\n`).lines]);
  cases.push(['a broken file, URL', () => problems(`{\n  "mqtt": {"url": 'mqtt://bob:${secret}@h:1883'}\n}\n`).lines]);
  cases.push(['an object for the password', () => problems({ mqtt: { password: { value: secret } } }).lines]);
  cases.push(['a string for the mqtt group', () => problems({ mqtt: `mqtt://bob:${secret}@host:1883` }).lines]);
  for (const [what, lines] of cases) {
    let got: string[];
    try {
      got = lines();
    } catch (err) {
      got = [String((err as Error).message)];
    }
    assert.ok(got.length >= 1, `${what}: rejected`);
    assert.ok(!got.join('\n').includes(secret), `${what}: ${got.join('\n')}`);
  }
  assert.match(problems({ mqtt: `mqtt://bob:${secret}@host:1883` }).lines[0]!, /^config: mqtt in .* must be an object of keys such as \{"enabled": …\}, not a string$/);
  // A % that is not an escape: config check rejects what run could not use, naming the key (the password unseen).
  const percent = 'mqtt://bob:50%off@127.0.0.1:1883';
  const check = await runCli(['config', 'check', '--no-mqtt'], { env: { MASKWATCH_MQTT_URL: percent } });
  assert.equal(check.code, 1, check.stdout);
  assert.match(check.stderr, /^config: mqtt\.url = "mqtt:\/\/bob:\*\*\*@127\.0\.0\.1:1883" \(from environment variable MASKWATCH_MQTT_URL\): the password in it has a malformed %-escape \(write a % as %25\)\n$/);
});

test('stateDir: what run cannot use is a config error too (empty, a file, under a file, on /proc); a folder still to be made is fine', () => {
  const file = writeConfig({});
  assertOneLine(problems({ stateDir: '' }).lines, /^config: stateDir = "" \(in .*\): must be a folder \(for the outbox and state\), not empty$/);
  assertOneLine(problems({ stateDir: file }).lines, /^config: stateDir = ".*c\d+\.json" \(in .*\): .*c\d+\.json: not a folder$/);
  assertOneLine(problems({ stateDir: path.join(file, 'state') }).lines, /: .*c\d+\.json\/state cannot be made: .*c\d+\.json is a file$/);
  assertOneLine(problems({ stateDir: '/proc/maskwatch' }).lines, /^config: stateDir = "\/proc\/maskwatch" \(in .*\): \/proc\/maskwatch: on \/proc, where nothing can be kept$/);
  assert.deepEqual(problems({ stateDir: path.join(tmp, 'not', 'yet') }).lines, []);
});
