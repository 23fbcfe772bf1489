import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, printableConfig } from '../src/config/load.js';
import { schemaLeaves } from '../src/config/keys.js';
import { buildExample } from '../scripts/gen-config-docs.js';
import { ROOT, runCli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-config-'));
const write = (name: string, obj: unknown) => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return file;
};

test('config/example.json has every schema key, loads cleanly and matches the generator', () => {
  const example = JSON.parse(fs.readFileSync(path.join(ROOT, 'config/example.json'), 'utf8'));
  assert.deepEqual(example, buildExample(), 'config/example.json is stale: run npm run config:docs');
  const { config } = loadConfig({ file: path.join(ROOT, 'config/example.json'), fileRequired: true });
  assert.equal(config.stateDir, '/var/lib/maskwatch');
  const docs = fs.readFileSync(path.join(ROOT, 'docs/CONFIG.md'), 'utf8');
  for (const [key] of schemaLeaves()) assert.ok(docs.includes(`\`${key}\``), `docs/CONFIG.md lacks ${key}`);
});

test('an unknown key is an error that names it', () => {
  const file = write('unknown.json', { camera: { sauce: 'v4l2:/dev/video0' } });
  assert.throws(() => loadConfig({ file }), (err: Error) => err instanceof ConfigError && /unknown key 'camera\.sauce'/.test(err.message));
});

test('a bad value names the key, the value and what is allowed', () => {
  const file = write('bad.json', { detector: { model: 'sideways' }, signals: { quietStart: '25:00' }, camera: { source: 'rtsp://x' } });
  assert.throws(
    () => loadConfig({ file }),
    (err: Error) =>
      /detector\.model = "sideways" \(in .*bad\.json\): must be one of the possible values: \["ssd","front","back"\]/.test(err.message) &&
      /signals\.quietStart = "25:00" \(in .*bad\.json\): must be "" \(off\) or a time HH:MM/.test(err.message) &&
      /camera\.source = "rtsp:\/\/x" \(in .*bad\.json\): must be one of: auto/.test(err.message),
  );
});

test('malformed JSON and a missing required file are one clear error each', () => {
  const file = write('broken.json', '{"camera": ');
  assert.throws(() => loadConfig({ file }), /config .*broken\.json:1:12: not valid JSON at line 1, column 12: a value expected/);
  assert.throws(() => loadConfig({ file: path.join(tmp, 'nope.json'), fileRequired: true }), /nope\.json: no such file/);
});

test('environment variables and overrides apply; the password never appears in print', () => {
  const { config, source } = loadConfig({ env: { MASKWATCH_MQTT_PASSWORD: 's3cret-pass', MASKWATCH_CAMERA: 'demo' }, overrides: { 'mqtt.prefix': 'shop' } });
  assert.equal(config.mqtt.password, 's3cret-pass');
  assert.equal(config.camera.source, 'demo');
  assert.equal(config.mqtt.prefix, 'shop');
  assert.ok(!printableConfig(source).includes('s3cret-pass'));
  assert.throws(() => loadConfig({ overrides: { 'camera.nope': 1 } }), /unknown key 'camera\.nope'/);
});

test('maskwatch config check / print from the command line', async () => {
  const bad = write('cli-bad.json', { mqtt: { protocolVersion: 3 } });
  const r1 = await runCli(['config', 'check', '--config', bad]);
  assert.equal(r1.code, 1);
  assert.match(r1.stderr.trim(), /^config: mqtt\.protocolVersion = 3 \(in .*cli-bad\.json\): must be one of the possible values: \[4,5\]$/);
  const good = write('cli-good.json', { mqtt: { password: 'pw-in-file-123' }, deviceId: 'door' });
  const r2 = await runCli(['config', 'print', '--config', good]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(JSON.parse(r2.stdout).deviceId, 'door');
  assert.ok(!r2.stdout.includes('pw-in-file-123') && !r2.stderr.includes('pw-in-file-123'));
});
