/**
 * scripts/install.sh against a temp prefix, with fake system commands (apt-get, systemctl, useradd, npm …)
 * first in PATH that log their argv: systemd as PID 1 and package managers cannot run here.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'scripts/install.sh');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-install-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const FAKES: Record<string, number> = { 'apt-get': 0, systemctl: 0, useradd: 0, groupadd: 0, usermod: 0, npm: 0, chown: 0, chgrp: 0, getent: 2, id: 1, udevadm: 0 };
const CHANGING = ['apt-get', 'systemctl', 'useradd', 'groupadd', 'usermod', 'npm', 'chown', 'chgrp', 'udevadm'];
const fakeBin = path.join(work, 'fake-bin');
fs.mkdirSync(fakeBin);
for (const [name, code] of Object.entries(FAKES)) {
  fs.writeFileSync(path.join(fakeBin, name), `#!/bin/sh\necho "${name} $* [cwd=$(pwd)]" >> "$FAKE_LOG"\nexit ${code}\n`, { mode: 0o755 });
}

function install(prefix: string, ...args: string[]) {
  const log = path.join(work, `log-${path.basename(prefix)}-${Date.now()}`);
  fs.writeFileSync(log, '');
  const r = spawnSync('bash', [SCRIPT, '--prefix', prefix, ...args], {
    env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, FAKE_LOG: log },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls: fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

test('installs app, config, state dir and unit under the prefix, then reloads and enables the service', () => {
  const prefix = path.join(work, 'root1');
  const r = install(prefix);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const app = path.join(prefix, 'opt/maskwatch');
  assert.ok(fs.existsSync(path.join(app, 'package.json')));
  assert.ok(fs.statSync(path.join(app, 'bin/maskwatch.js')).mode & 0o100, 'bin is executable');
  assert.ok(fs.existsSync(path.join(app, 'src/events/mqtt-sink.ts')));
  assert.ok(!fs.existsSync(path.join(app, '.git')) && !fs.existsSync(path.join(app, 'node_modules')), 'no .git or node_modules copied');
  assert.equal(fs.readFileSync(path.join(prefix, 'etc/maskwatch/config.json'), 'utf8'), fs.readFileSync(path.join(ROOT, 'config/example.json'), 'utf8'));
  assert.ok(fs.statSync(path.join(prefix, 'var/lib/maskwatch')).isDirectory());
  const unit = fs.readFileSync(path.join(prefix, 'etc/systemd/system/maskwatch.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${process.execPath.replace(/[.]/g, '\\.')} /opt/maskwatch/bin/maskwatch\\.js run --config /etc/maskwatch/config\\.json$`, 'm'));
  const calls = r.calls.map((c) => c.replace(/ \[cwd=.*\]$/, ''));
  assert.ok(calls.includes('apt-get update'));
  assert.ok(calls.some((c) => /^apt-get install -y --no-install-recommends ffmpeg gpiod/.test(c)), calls.join('\n'));
  assert.ok(!calls.some((c) => c.includes('mosquitto')), 'no broker unless asked');
  assert.ok(calls.includes('groupadd --system gpio'));
  assert.ok(calls.some((c) => /^useradd --system .* maskwatch$/.test(c)));
  assert.ok(calls.includes('usermod --append --groups video,gpio maskwatch'));
  assert.match(fs.readFileSync(path.join(prefix, 'etc/udev/rules.d/60-maskwatch-gpio.rules'), 'utf8'), /KERNEL=="gpiochip\*", GROUP="gpio"/);
  assert.ok(calls.includes('udevadm control --reload-rules'));
  assert.ok(r.calls.some((c) => c.startsWith('npm ci --omit=dev') && c.endsWith(`[cwd=${app}]`)), 'npm ci runs in the installed app');
  const systemctl = calls.filter((c) => c.startsWith('systemctl'));
  assert.deepEqual(systemctl, ['systemctl daemon-reload', 'systemctl enable --now maskwatch.service']);
});

test('a second run keeps the edited config and updates the rest', () => {
  const prefix = path.join(work, 'root2');
  assert.equal(install(prefix, '--no-start').code, 0);
  const config = path.join(prefix, 'etc/maskwatch/config.json');
  fs.writeFileSync(config, '{"deviceId": "front-door"}\n');
  const stale = path.join(prefix, 'opt/maskwatch/stale-file.txt');
  fs.writeFileSync(stale, 'from an old version');
  const r = install(prefix, '--no-start', '--with-broker');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(config, 'utf8'), '{"deviceId": "front-door"}\n');
  assert.match(r.stdout, /keeping the existing/);
  assert.ok(!fs.existsSync(stale), 'files of the previous version are replaced');
  const calls = r.calls.map((c) => c.replace(/ \[cwd=.*\]$/, ''));
  assert.ok(calls.includes('systemctl enable maskwatch.service') && !calls.some((c) => c.includes('--now')), calls.join('\n'));
  assert.ok(calls.some((c) => c.startsWith('apt-get install') && c.includes('mosquitto')));
  assert.ok(calls.includes('systemctl enable mosquitto.service'));
});

test('--dry-run prints the steps and changes nothing', () => {
  const prefix = path.join(work, 'root3');
  fs.mkdirSync(prefix);
  const r = install(prefix, '--dry-run');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(prefix), [], 'no file created');
  assert.deepEqual(r.calls.filter((c) => CHANGING.includes(c.split(' ')[0]!)), [], 'no changing command ran');
  assert.match(r.stdout, /\[dry-run\] systemctl daemon-reload/);
  assert.match(r.stdout, /\[dry-run\] npm ci --omit=dev/);
  assert.match(r.stdout, /\[dry-run\] install -m 0640 .*config\/example\.json/);
});

test('detects a Jetson (L4T) and Ubuntu; --help and bad options', () => {
  const jetson = path.join(work, 'jetson');
  fs.mkdirSync(path.join(jetson, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(jetson, 'etc/nv_tegra_release'), '# R35 (release), REVISION: 4.1\n');
  assert.match(install(jetson, '--dry-run').stdout, /platform: jetson/);
  const ubuntu = path.join(work, 'ubuntu');
  fs.mkdirSync(path.join(ubuntu, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(ubuntu, 'etc/os-release'), 'NAME="Ubuntu"\nID=ubuntu\n');
  assert.match(install(ubuntu, '--dry-run').stdout, /platform: ubuntu/);
  const help = spawnSync('bash', [SCRIPT, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--with-broker/);
  const bad = spawnSync('bash', [SCRIPT, '--frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});
