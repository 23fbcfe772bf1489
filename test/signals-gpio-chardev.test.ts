import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChardevGpio, parseGpiodetect, parseGpiodVersion } from '../src/signals/gpio-chardev.js';
import { setLogSink } from '../src/core/log.js';
import { writeFakeGpioset } from './helpers/fake-gpioset.js';

let dir: string;
let previousSink: ReturnType<typeof setLogSink>;
const LINES = { green: 17, red: 27, amber: 22, buzzer: 18 };

const waitFor = async (what: string, cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** The fake gpioset is a node script, slower to start than the real tool: wait until it has recorded its runs. */
const holderUp = (fake: ReturnType<typeof writeFakeGpioset>, runs: number) => waitFor(`${runs} gpioset runs`, () => fake.entries().filter((e) => e.argv).length >= runs);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-chardev-'));
  previousSink = setLogSink(() => undefined);
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('parsing gpioset --version and gpiodetect', () => {
  assert.deepEqual(parseGpiodVersion('gpioset (libgpiod) v1.6.3\nCopyright'), { major: 1, minor: 6 });
  assert.deepEqual(parseGpiodVersion('gpioset (libgpiod) v2.1.1'), { major: 2, minor: 1 });
  assert.deepEqual(parseGpiodetect('gpiochip0 [pinctrl-rp1] (54 lines)\ngpiochip10 [gpio-brcmstb@107d508500] (32 lines)\n'), [
    { name: 'gpiochip0', label: 'pinctrl-rp1', lines: 54 },
    { name: 'gpiochip10', label: 'gpio-brcmstb@107d508500', lines: 32 },
  ]);
});

test('libgpiod v2.1: one interactive gpioset; changes are `set` commands on stdin; close sets all off', async () => {
  const fake = writeFakeGpioset(path.join(dir, 'v21'), 'v2.1.1');
  const gpio = new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'pinctrl-rp1', activeLow: false });
  await gpio.open(LINES);
  await holderUp(fake, 1);
  gpio.set('red', true);
  gpio.set('buzzer', true);
  gpio.set('buzzer', false);
  gpio.set('buzzer', false); // no change, no command
  await gpio.close();
  await waitFor('exit', () => fake.entries().some((e) => e.exit));
  const entries = fake.entries();
  const runs = entries.filter((e) => e.argv);
  assert.equal(runs.length, 1, 'one long-lived process');
  assert.deepEqual(runs[0].argv, ['-c', 'gpiochip0', '-i', '17=0', '27=0', '22=0', '18=0']);
  assert.deepEqual(
    entries.filter((e) => e.stdin).map((e) => e.stdin),
    ['set 27=1', 'set 18=1', 'set 18=0', 'set 17=0 27=0 22=0 18=0', 'exit'],
  );
});

test('libgpiod v1: --mode=signal holder restarted per change, changes coalesce; close sets off and releases', async () => {
  const fake = writeFakeGpioset(path.join(dir, 'v1'), 'v1.6.3');
  const gpio = new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'auto', activeLow: true });
  await gpio.open({ green: 17, red: 'GPIO27' });
  await holderUp(fake, 1);
  gpio.set('green', true);
  gpio.set('red', true);
  await holderUp(fake, 2);
  await new Promise((r) => setTimeout(r, 300));
  await holderUp(fake, 2);
  await gpio.close();
  const runs = fake.entries().filter((e) => e.argv).map((e) => e.argv);
  // active low: off is 1; red found by name with gpiofind; chip picked from gpiodetect (pinctrl-rp1)
  assert.deepEqual(runs[0], ['--mode=signal', 'gpiochip0', '17=1', '27=1']);
  assert.deepEqual(runs[runs.length - 2], ['--mode=signal', 'gpiochip0', '17=0', '27=0'], 'the last holder has both lines on');
  assert.ok(runs.length <= 4, `${runs.length} runs: changes coalesced`);
  assert.deepEqual(runs[runs.length - 1], ['gpiochip0', '17=1', '27=1'], 'one-shot run: lines off, then released');
  const exits = fake.entries().filter((e) => e.exit === 'SIGTERM').length;
  assert.equal(exits, runs.length - 1, 'every holder was stopped');
});

test('libgpiod v2.0 (no -i): a holder per change, one-shot -t 0 on close', async () => {
  const fake = writeFakeGpioset(path.join(dir, 'v20'), 'v2.0.2');
  const gpio = new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'gpiochip4', activeLow: false });
  await gpio.open({ green: 'GPIO17' });
  await holderUp(fake, 1);
  gpio.set('green', true);
  await holderUp(fake, 2);
  await gpio.close();
  const runs = fake.entries().filter((e) => e.argv).map((e) => e.argv);
  assert.deepEqual(runs, [
    ['-c', 'gpiochip4', 'GPIO17=0'],
    ['-c', 'gpiochip4', 'GPIO17=1'],
    ['-c', 'gpiochip4', '-t', '0', 'GPIO17=0'],
  ]);
});

test('offSync kills the holder and sets the lines off synchronously', async () => {
  const fake = writeFakeGpioset(path.join(dir, 'sync'), 'v2.1.0');
  const gpio = new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'gpiochip0', activeLow: false });
  await gpio.open({ red: 27 });
  await holderUp(fake, 1);
  gpio.set('red', true);
  gpio.offSync();
  // synchronous: the one-shot run is already recorded
  const runs = fake.entries().filter((e) => e.argv).map((e) => e.argv);
  assert.deepEqual(runs[runs.length - 1], ['-c', 'gpiochip0', '-t', '0', '27=0']);
  await gpio.close();
});

test('errors name the problem: no chip of that label, gpioset missing, a holder that dies at once', async () => {
  const fake = writeFakeGpioset(path.join(dir, 'err'), 'v2.1.1');
  await assert.rejects(new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'tegra234-gpio', activeLow: false }).open(LINES), /no chip labelled 'tegra234-gpio' \(chips: gpiochip0 \[pinctrl-rp1\], gpiochip1 \[rp1-extra\]\)/);
  await assert.rejects(new ChardevGpio({ gpiosetPath: path.join(dir, 'nope', 'gpioset'), chip: 'auto', activeLow: false }).open(LINES), /gpioset: not found/);
  const dying = path.join(dir, 'dying');
  fs.mkdirSync(dying);
  fs.writeFileSync(path.join(dying, 'gpioset'), `#!/bin/sh\ncase "$1" in --version) echo "gpioset (libgpiod) v2.1";; *) echo "gpioset: unable to request lines: Device or resource busy" >&2; exit 1;; esac\n`, { mode: 0o755 });
  await assert.rejects(new ChardevGpio({ gpiosetPath: path.join(dying, 'gpioset'), chip: 'gpiochip0', activeLow: false }).open(LINES), /exited \(1\): gpioset: unable to request lines: Device or resource busy/);
});
