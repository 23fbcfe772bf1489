/**
 * No crash loop under systemd: a bad config or model makes `maskwatch run` exit 2 with one line, and the shipped unit
 * does not restart exit 2 (it would fail the same way every 5 s), while it does restart a crash. systemd's restart
 * rule (systemd.service(5), Restart=on-failure) is applied to the unit's own settings and the daemon's real exits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from './helpers/cli.js';

/** The [Service] settings of a unit file; a key given twice keeps every value. */
function serviceSettings(unitText: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    else if (section === 'Service' && line.includes('=')) {
      const key = line.slice(0, line.indexOf('='));
      settings.set(key, [...(settings.get(key) ?? []), line.slice(key.length + 1)]);
    }
  }
  return settings;
}

/** Whether systemd restarts the service after this exit (Restart=no/on-failure/always, RestartPreventExitStatus). */
function systemdRestarts(settings: Map<string, string[]>, exit: { code: number | null; signal: NodeJS.Signals | null }): boolean {
  const restart = settings.get('Restart')?.at(-1) ?? 'no';
  const prevent = (settings.get('RestartPreventExitStatus') ?? []).flatMap((v) => v.split(/\s+/));
  if (exit.code !== null && prevent.includes(String(exit.code))) return false;
  if (exit.signal !== null && prevent.includes(exit.signal.replace(/^SIG/, ''))) return false;
  if (restart === 'always') return true;
  if (restart !== 'on-failure') return false;
  // Clean exits: status 0, or one of the signals systemd itself sends to stop a service.
  if (exit.code !== null) return exit.code !== 0;
  return !['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'].includes(exit.signal!);
}

const unit = serviceSettings(fs.readFileSync(path.join(ROOT, 'systemd/maskwatch.service'), 'utf8'));

test('the unit: Restart=on-failure with RestartPreventExitStatus=2: a crash is restarted, exit 2 and a clean stop are not', () => {
  assert.deepEqual(unit.get('Restart'), ['on-failure']);
  assert.ok((unit.get('RestartPreventExitStatus') ?? []).some((v) => v.split(/\s+/).includes('2')), 'RestartPreventExitStatus=2');
  assert.equal(systemdRestarts(unit, { code: 2, signal: null }), false, 'bad config: not restarted');
  assert.equal(systemdRestarts(unit, { code: 0, signal: null }), false, 'orderly stop');
  assert.equal(systemdRestarts(unit, { code: 1, signal: null }), true, 'an uncaught error is restarted');
  assert.equal(systemdRestarts(unit, { code: null, signal: 'SIGKILL' }), true, 'killed (out of memory, watchdog) is restarted');
});

test('maskwatch run with a bad config or model: exit 2, one line, and the unit would not restart it', { timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-fault-unit-'));
  try {
    const brokenModel = path.join(tmp, 'broken-model');
    fs.cpSync(path.join(ROOT, 'models/maskwatch-default'), brokenModel, { recursive: true });
    for (const f of ['classifier.onnx', 'classifier.int8.onnx']) fs.truncateSync(path.join(brokenModel, f), 1000);
    const write = (name: string, text: string) => (fs.writeFileSync(path.join(tmp, name), text), path.join(tmp, name));
    const cases: Array<[string, string, RegExp]> = [
      ['not JSON', write('not-json.json', '{"deviceId": "door1",'), /config/],
      ['a bad value', write('bad-value.json', JSON.stringify({ tracker: { minFrames: -1 } })), /tracker\.minFrames/],
      ['no such config file', path.join(tmp, 'missing.json'), /missing\.json/],
      ['no such password file', write('no-pw.json', JSON.stringify({ mqtt: { passwordFile: path.join(tmp, 'no-such-pw') } })), /mqtt\.passwordFile/],
      ['a damaged model', write('broken-model.json', JSON.stringify({ classifier: { modelDir: brokenModel } })), /broken-model/],
    ];
    for (const [what, file, names] of cases) {
      const r = await runCli(['run', '--camera', 'demo', '--gpio', 'console', '--config', file, '--state-dir', path.join(tmp, 'state')]);
      const lines = r.stderr.trim().split('\n');
      assert.equal(r.code, 2, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
      assert.equal(lines.length, 1, `${what}: one line\n${r.stderr}`);
      assert.match(lines[0]!, names, what);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      assert.equal(systemdRestarts(unit, r), false, `${what}: not restarted`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
