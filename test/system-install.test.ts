/**
 * scripts/install.sh against a temp prefix. What cannot run here is faked first in PATH and logs its
 * argv: systemctl (no systemd as PID 1; it answers is-active and --version as told and records which
 * version of the app a restart found), apt-get, the user and group tools, udevadm. npm is faked in
 * the fast tests (node_modules linked to this checkout's) and real in the last one, which builds a
 * production install offline and runs the daemon's commands from it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './helpers/cli.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-install-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const CHANGING = ['apt-get', 'systemctl', 'useradd', 'groupadd', 'usermod', 'npm', 'chown', 'chgrp', 'udevadm'];
const log = (name: string) => `echo "${name} $* [cwd=$(pwd)]" >> "$FAKE_LOG"`;
const FAKES: Record<string, string> = {
  'apt-get': log('apt-get'),
  useradd: log('useradd'),
  groupadd: log('groupadd'),
  usermod: log('usermod'),
  chown: log('chown'),
  chgrp: log('chgrp'),
  udevadm: log('udevadm'),
  getent: 'exit 2',
  id: 'exit 1',
  systemctl: `case "$1" in
  --version) echo "systemd \${FAKE_SYSTEMD_VERSION:-252} (fake)"; exit 0 ;;
  is-active) ${log('systemctl')}; [ "\${FAKE_ACTIVE:-0}" = 1 ] && exit 0 || exit 3 ;;
  restart|start) echo "systemctl $* [app=$(cat "$FAKE_PREFIX/opt/maskwatch/VERSION-MARKER" 2>/dev/null)]" >> "$FAKE_LOG" ;;
  *) ${log('systemctl')} ;;
esac`,
  // npm ci: this checkout's packages, linked (onnxruntime-node replaced by a tree of per-platform folders).
  npm: `${log('npm')}
if [ "$1" = run ] && [ -n "$FAKE_BUILD_FAILS" ]; then echo "error TS2322: fake" >&2; exit 2; fi
if [ "$1" = ci ]; then
  mkdir node_modules
  for p in "$FAKE_MODULES"/* "$FAKE_MODULES"/.bin; do [ "\${p##*/}" = onnxruntime-node ] || ln -s "$p" node_modules/; done
  for d in linux/x64 linux/arm64 darwin/arm64 win32/x64; do mkdir -p node_modules/onnxruntime-node/bin/napi-v6/$d; done
fi`,
};

function fakeBin(except: string[] = []): string {
  const dir = path.join(work, `fake-bin-${except.join('-') || 'all'}`);
  if (fs.existsSync(dir)) return dir;
  fs.mkdirSync(dir);
  for (const [name, body] of Object.entries(FAKES)) if (!except.includes(name)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

/** A copy of this checkout to install from (so a test can change it between runs), with a version marker. */
function sourceTree(name: string, marker = 'v1'): string {
  const src = path.join(work, `src-${name}`);
  fs.mkdirSync(src);
  const r = spawnSync('sh', ['-c', `tar -C "$1" --exclude=./.git --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$2" -xf -`, 'sh', ROOT, src]);
  assert.equal(r.status, 0, r.stderr?.toString());
  fs.writeFileSync(path.join(src, 'VERSION-MARKER'), marker);
  return src;
}

interface Opts {
  src?: string;
  env?: NodeJS.ProcessEnv;
  realNpm?: boolean;
  hostname?: string;
}

function install(prefix: string, args: string[], opts: Opts = {}) {
  const fakeLog = path.join(work, `log-${path.basename(prefix)}-${Date.now()}`);
  fs.writeFileSync(fakeLog, '');
  const script = path.join(opts.src ?? ROOT, 'scripts/install.sh');
  const env = {
    ...process.env,
    PATH: `${fakeBin(opts.realNpm ? ['npm'] : [])}:${process.env.PATH}`,
    FAKE_LOG: fakeLog,
    FAKE_PREFIX: prefix,
    FAKE_MODULES: path.join(ROOT, 'node_modules'),
    ...opts.env,
  };
  // A host name of our choosing, in a UTS namespace of its own (root only).
  const cmd = opts.hostname
    ? ['unshare', ['--uts', 'sh', '-c', 'printf %s "$1" > /proc/sys/kernel/hostname && shift && exec bash "$@"', 'sh', opts.hostname, script, '--prefix', prefix, ...args]]
    : ['bash', [script, '--prefix', prefix, ...args]];
  const r = spawnSync(cmd[0] as string, cmd[1] as string[], { env, encoding: 'utf8', timeout: 15 * 60_000 });
  const calls = fs.readFileSync(fakeLog, 'utf8').split('\n').filter(Boolean);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls, plain: calls.map((c) => c.replace(/ \[cwd=.*\]$/, '')) };
}

const canSetHostname = spawnSync('unshare', ['--uts', 'true']).status === 0;
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

test('a new install: app built in a staging folder, config with the host name as deviceId, unit enabled, service not started', { skip: !canSetHostname && 'needs unshare --uts (root)' }, () => {
  const prefix = path.join(work, 'root1');
  const src = sourceTree('new');
  const r = install(prefix, [], { src, hostname: 'Door 7+#.shop' });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const app = path.join(prefix, 'opt/maskwatch');
  assert.ok(fs.existsSync(path.join(app, 'src/events/mqtt-sink.ts')) && fs.statSync(path.join(app, 'bin/maskwatch.js')).mode & 0o100);
  assert.ok(!fs.existsSync(path.join(app, '.git')) && !fs.existsSync(`${app}.new`), 'no .git copied, no staging folder left');
  // npm: full install, build, prune, in the staging folder; the other platforms' ONNX Runtime removed.
  const npm = r.calls.filter((c) => c.startsWith('npm '));
  assert.deepEqual(npm.map((c) => c.split(' ')[1]), ['ci', 'run', 'prune']);
  assert.match(npm[0]!, /^npm ci --include=dev .*\[cwd=.*opt\/maskwatch\.new\]$/);
  assert.match(npm[1]!, /^npm run --silent build /);
  assert.match(npm[2]!, /^npm prune --omit=dev /);
  const kept = fs.readdirSync(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6'), { recursive: true }).map(String).filter((p) => p.includes('/'));
  assert.deepEqual(kept, [`${process.platform}/${process.arch}`]);
  // The config: example.json with this host's name, sanitised.
  const configFile = path.join(prefix, 'etc/maskwatch/config.json');
  assert.deepEqual(readJson(configFile), { ...readJson(path.join(ROOT, 'config/example.json')), deviceId: 'Door_7___shop' });
  assert.equal(fs.statSync(configFile).mode & 0o777, 0o640);
  assert.ok(fs.statSync(path.join(prefix, 'var/lib/maskwatch')).isDirectory());
  // The unit: node's path, notify from a child accepted, no restart on a bad config.
  const unit = fs.readFileSync(path.join(prefix, 'etc/systemd/system/maskwatch.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=${process.execPath.replace(/[.]/g, '\\.')} /opt/maskwatch/bin/maskwatch\\.js run --config /etc/maskwatch/config\\.json$`, 'm'));
  for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=on-failure', 'RestartPreventExitStatus=2', 'WatchdogSec=30']) assert.match(unit, new RegExp(`^${line}$`, 'm'));
  assert.ok(!fs.existsSync(path.join(prefix, 'etc/systemd/system/maskwatch.service.d')), 'systemd 252 needs no drop-in');
  // Packages: no compiler; system changes as before.
  assert.ok(r.plain.some((c) => c === 'apt-get install -y --no-install-recommends ffmpeg gpiod'), r.plain.join('\n'));
  assert.ok(!r.plain.some((c) => /\b(g\+\+|make|python3|mosquitto)\b/.test(c)), 'no compiler, no broker unless asked');
  assert.ok(r.plain.includes('groupadd --system gpio') && r.plain.includes('usermod --append --groups video,gpio maskwatch'));
  assert.ok(r.plain.some((c) => /^useradd --system .* maskwatch$/.test(c)));
  assert.match(fs.readFileSync(path.join(prefix, 'etc/udev/rules.d/60-maskwatch-gpio.rules'), 'utf8'), /KERNEL=="gpiochip\*", GROUP="gpio"/);
  // Enabled, not started, and the one command to start it is printed.
  assert.deepEqual(r.plain.filter((c) => c.startsWith('systemctl')), ['systemctl is-active --quiet maskwatch.service', 'systemctl daemon-reload', 'systemctl enable maskwatch.service']);
  assert.match(r.stdout, /enabled but not started/);
  assert.match(r.stdout, /edit .*etc\/maskwatch\/config\.json/);
  assert.match(r.stdout, /then start it with: sudo systemctl start maskwatch$/m);
});

test('--device-id sets the id; a bad one is refused before anything changes', () => {
  const prefix = path.join(work, 'root-id');
  const r = install(prefix, ['--device-id', 'front-door']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readJson(path.join(prefix, 'etc/maskwatch/config.json')).deviceId, 'front-door');
  const bad = path.join(work, 'root-bad-id');
  const b = install(bad, ['--device-id', 'shop door/1+#']);
  assert.equal(b.code, 2);
  assert.equal(b.stderr.trim().split('\n').length, 1);
  assert.match(b.stderr, /--device-id 'shop door\/1\+#': use only letters, digits, _ and -/);
  assert.ok(!fs.existsSync(bad) && b.calls.length === 0);
});

test('--start starts it on the new version; a re-run upgrades and restarts a running service, keeping the config', () => {
  const prefix = path.join(work, 'root2');
  const src = sourceTree('upgrade', 'v1');
  const first = install(prefix, ['--start'], { src });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.plain.filter((c) => c.startsWith('systemctl')).slice(-2), ['systemctl enable maskwatch.service', 'systemctl restart maskwatch.service [app=v1]']);
  const config = path.join(prefix, 'etc/maskwatch/config.json');
  fs.writeFileSync(config, '{"deviceId": "front-door"}\n');
  const stale = path.join(prefix, 'opt/maskwatch/stale-file.txt');
  fs.writeFileSync(stale, 'from an old version');
  fs.writeFileSync(path.join(src, 'VERSION-MARKER'), 'v2');
  // Running now; the re-run has no --start.
  const r = install(prefix, ['--with-broker'], { src, env: { FAKE_ACTIVE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(config, 'utf8'), '{"deviceId": "front-door"}\n');
  assert.match(r.stdout, /keeping the existing/);
  assert.match(r.stdout, /was running: restarting it on the new version/);
  assert.ok(!fs.existsSync(stale), 'files of the previous version are replaced');
  const systemctl = r.plain.filter((c) => c.startsWith('systemctl'));
  assert.equal(systemctl.at(-1), 'systemctl restart maskwatch.service [app=v2]', 'restarted after the new version was in place');
  assert.ok(systemctl.indexOf('systemctl daemon-reload') < systemctl.length - 1, 'the unit is reloaded before the restart');
  assert.ok(systemctl.includes('systemctl enable --now mosquitto.service'));
  assert.ok(r.plain.some((c) => c.startsWith('apt-get install') && c.includes('mosquitto')));
  // Stopped, no --start: upgraded, not started.
  fs.writeFileSync(path.join(src, 'VERSION-MARKER'), 'v3');
  const stopped = install(prefix, [], { src });
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(fs.readFileSync(path.join(prefix, 'opt/maskwatch/VERSION-MARKER'), 'utf8'), 'v3');
  assert.ok(!stopped.plain.some((c) => /systemctl (re)?start/.test(c)), stopped.plain.join('\n'));
});

test('a config the new version rejects: the installed version stays, running or stopped, exit 1; a first install goes in unstarted, exit 1', () => {
  const prefix = path.join(work, 'root-bad-config');
  const src = sourceTree('bad-config', 'v1');
  assert.equal(install(prefix, [], { src }).code, 0);
  fs.writeFileSync(path.join(prefix, 'etc/maskwatch/config.json'), '{"camera": {"fps": "fast"}}\n');
  fs.writeFileSync(path.join(src, 'VERSION-MARKER'), 'v2');
  const running = install(prefix, [], { src, env: { FAKE_ACTIVE: '1' } });
  assert.equal(running.code, 1);
  assert.match(running.stderr, /camera\.fps/);
  assert.match(running.stderr, /nothing was replaced and the running service keeps running the old version/);
  assert.equal(fs.readFileSync(path.join(prefix, 'opt/maskwatch/VERSION-MARKER'), 'utf8'), 'v1');
  assert.ok(!fs.existsSync(path.join(prefix, 'opt/maskwatch.new')));
  assert.ok(!running.plain.some((c) => /systemctl (restart|start|daemon-reload)/.test(c)), running.plain.join('\n'));
  // Stopped (it still starts at boot, where the old version takes this config): nothing replaced either.
  const stopped = install(prefix, [], { src });
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.match(stopped.stderr, /camera\.fps/);
  assert.match(stopped.stderr, /the new version rejects .*config\.json \(above\): nothing was replaced; fix the config/);
  assert.equal(fs.readFileSync(path.join(prefix, 'opt/maskwatch/VERSION-MARKER'), 'utf8'), 'v1');
  assert.ok(!fs.existsSync(path.join(prefix, 'opt/maskwatch.new')));
  // A first install with a config already there that it rejects: installed, not started even with --start.
  const fresh = path.join(work, 'root-bad-config-first');
  fs.mkdirSync(path.join(fresh, 'etc/maskwatch'), { recursive: true });
  fs.writeFileSync(path.join(fresh, 'etc/maskwatch/config.json'), '{"camera": {"fps": "fast"}}\n');
  const first = install(fresh, ['--start'], { src });
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, /camera\.fps/);
  assert.match(first.stderr, /installed, but not started: .*config\.json is rejected/);
  assert.equal(fs.readFileSync(path.join(fresh, 'opt/maskwatch/VERSION-MARKER'), 'utf8'), 'v2');
  assert.ok(!first.plain.some((c) => /systemctl (re)?start/.test(c)), first.plain.join('\n'));
});

test('a build that fails replaces nothing and restarts nothing', () => {
  const prefix = path.join(work, 'root-bad-build');
  const src = sourceTree('bad-build', 'v1');
  assert.equal(install(prefix, [], { src }).code, 0);
  fs.writeFileSync(path.join(src, 'VERSION-MARKER'), 'v2');
  const r = install(prefix, [], { src, env: { FAKE_ACTIVE: '1', FAKE_BUILD_FAILS: '1' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error TS2322: fake/);
  assert.match(r.stderr, /^install\.sh: building the app in .*opt\/maskwatch\.new failed \(see above\); the installed version is unchanged$/m);
  assert.equal(fs.readFileSync(path.join(prefix, 'opt/maskwatch/VERSION-MARKER'), 'utf8'), 'v1');
  assert.ok(!r.plain.some((c) => /systemctl (restart|start|daemon-reload)/.test(c)), r.plain.join('\n'));
});

test('systemd older than 246 gets a drop-in without Type=notify and the watchdog; a newer one has it removed', () => {
  const prefix = path.join(work, 'root-old-systemd');
  const dropin = path.join(prefix, 'etc/systemd/system/maskwatch.service.d/10-systemd-before-246.conf');
  const old = install(prefix, [], { env: { FAKE_SYSTEMD_VERSION: '245' } });
  assert.equal(old.code, 0, old.stderr);
  assert.match(fs.readFileSync(dropin, 'utf8'), /^\[Service\]\nType=simple\nWatchdogSec=0\n$/m);
  assert.equal(install(prefix, [], { env: { FAKE_SYSTEMD_VERSION: '252' } }).code, 0);
  assert.ok(!fs.existsSync(dropin));
});

test('--dry-run prints the steps and changes nothing', () => {
  const prefix = path.join(work, 'root3');
  fs.mkdirSync(prefix);
  const r = install(prefix, ['--dry-run', '--start']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(prefix), [], 'no file created');
  assert.deepEqual(r.calls.filter((c) => CHANGING.includes(c.split(' ')[0]!)), [], 'no changing command ran');
  assert.match(r.stdout, /\[dry-run\] systemctl daemon-reload/);
  assert.match(r.stdout, /\[dry-run\] \(cd .*opt\/maskwatch\.new && npm ci --include=dev && npm run build && npm prune --omit=dev\)/);
  assert.match(r.stdout, /\[dry-run\] install -m 0640 .*config\/example\.json .* \(deviceId /);
  assert.match(r.stdout, /\[dry-run\] systemctl restart maskwatch\.service/);
});

test('detects a Jetson (L4T) and Ubuntu; --help and bad options', () => {
  const jetson = path.join(work, 'jetson');
  fs.mkdirSync(path.join(jetson, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(jetson, 'etc/nv_tegra_release'), '# R35 (release), REVISION: 4.1\n');
  assert.match(install(jetson, ['--dry-run']).stdout, /platform: jetson/);
  const ubuntu = path.join(work, 'ubuntu');
  fs.mkdirSync(path.join(ubuntu, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(ubuntu, 'etc/os-release'), 'NAME="Ubuntu"\nID=ubuntu\n');
  assert.match(install(ubuntu, ['--dry-run']).stdout, /platform: ubuntu/);
  const help = spawnSync('bash', [path.join(ROOT, 'scripts/install.sh'), '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--device-id ID/);
  assert.match(help.stdout, /--start/);
  const bad = spawnSync('bash', [path.join(ROOT, 'scripts/install.sh'), '--frobnicate'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('the real production install (npm offline): dist/, no TF.js, no tsx, no compiler; the daemon commands run from it', () => {
  const prefix = path.join(work, 'root-real');
  const r = install(prefix, ['--device-id', 'door-1'], { realNpm: true });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const app = path.join(prefix, 'opt/maskwatch');
  const modules = path.join(app, 'node_modules');
  for (const gone of ['@tensorflow', 'tsx', 'typescript', 'esbuild', '@esbuild', 'unix-dgram']) assert.ok(!fs.existsSync(path.join(modules, gone)), `${gone} is not installed`);
  for (const kept of ['onnxruntime-node', 'sharp', 'mqtt', 'convict', 'commander']) assert.ok(fs.existsSync(path.join(modules, kept)), `${kept} is installed`);
  assert.ok(fs.existsSync(path.join(app, 'dist/cli/main.js')) && fs.existsSync(path.join(app, 'dist/onnx/session.js')));
  const du = spawnSync('du', ['-sm', modules], { encoding: 'utf8' });
  const mb = Number(du.stdout.split('\t')[0]);
  assert.ok(mb > 0 && mb < 200, `node_modules is ${mb} MB`);
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(app, 'bin/maskwatch.js'), ...args], { cwd: app, encoding: 'utf8', env: { ...process.env, MASKWATCH_STATE_DIR: path.join(work, 'real-state') } });
  const check = cli('config', 'check', '--config', path.join(prefix, 'etc/maskwatch/config.json'));
  assert.equal(check.status, 0, check.stderr);
  const predict = cli('predict', path.join(ROOT, 'test/fixtures/faces/masked1.jpg'), '--json');
  assert.equal(predict.status, 0, predict.stderr);
  assert.match(predict.stdout, /"mask"/);
  const exported = cli('export', path.join(ROOT, 'test/fixtures'), '--out', path.join(work, 'real.onnx'));
  assert.equal(exported.status, 1);
  assert.equal(exported.stderr.trim().split('\n').length, 1, exported.stderr);
  assert.match(exported.stderr, /^maskwatch: this command needs @tensorflow\/tfjs[^,]*, which a production install leaves out: run `npm ci --include=dev` in .*opt\/maskwatch to add the training packages$/m);
});
