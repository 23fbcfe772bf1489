import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SysfsGpio, listSysfsChips, lineOffset } from '../src/signals/gpio-sysfs.js';
import { ManualClock } from '../src/core/clock.js';
import { ConsoleGpio } from '../src/signals/gpio-console.js';
import { createGpioDriver } from '../src/signals/create-gpio-driver.js';
import { makeFakeSysfs } from './helpers/fake-gpio-sysfs.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';
import convict from 'convict';

const defaults = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().signals;
let dir: string;
const CHIPS = [
  { label: 'gpio-brcmstb@107d508500', base: 512, ngpio: 32 },
  { label: 'pinctrl-rp1', base: 571, ngpio: 54 },
];
const read = (root: string, gpio: number, f: string) => fs.readFileSync(path.join(root, `gpio${gpio}`, f), 'utf8').trim();

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-sysfs-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('sysfs: the chip is found by label and base; line = base + offset (Pi 5: BCM17 → gpio588)', async () => {
  const root = path.join(dir, 'a');
  const kernel = makeFakeSysfs(root, CHIPS);
  try {
    assert.deepEqual(
      listSysfsChips(root).map((c) => [c.dir, c.label, c.base]),
      [
        ['gpiochip512', 'gpio-brcmstb@107d508500', 512],
        ['gpiochip571', 'pinctrl-rp1', 571],
      ],
    );
    const gpio = new SysfsGpio({ root, chip: 'auto', activeLow: false });
    await gpio.open({ green: 17, red: 'GPIO27', amber: '22', buzzer: 18 });
    assert.deepEqual(kernel.exported.sort(), [588, 589, 593, 598]);
    assert.equal(read(root, 588, 'direction'), 'low');
    gpio.set('green', true);
    gpio.set('buzzer', true);
    assert.equal(read(root, 588, 'value'), '1');
    assert.equal(read(root, 589, 'value'), '1');
    assert.equal(read(root, 598, 'value'), '0');
    gpio.set('green', false);
    assert.equal(read(root, 588, 'value'), '0');
    gpio.set('buzzer', true);
    await gpio.close();
    assert.deepEqual([...kernel.valueAtUnexport.values()], ['0', '0', '0', '0'], 'every line off before it was released');
  } catch (err) {
    kernel.stop();
    throw err;
  }
  // the fake kernel removes unexported lines
  const end = Date.now() + 2000;
  while (kernel.unexported.length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  kernel.stop();
  assert.deepEqual(kernel.unexported.sort(), [588, 589, 593, 598]);
});

test('sysfs: chip by label, active-low lines, clear errors', async () => {
  const root = path.join(dir, 'b');
  const kernel = makeFakeSysfs(root, CHIPS);
  try {
    const gpio = new SysfsGpio({ root, chip: 'gpio-brcmstb@107d508500', activeLow: true });
    await gpio.open({ green: 4 });
    assert.equal(read(root, 516, 'direction'), 'high', 'active low: off is high');
    gpio.set('green', true);
    assert.equal(read(root, 516, 'value'), '0');
    await gpio.close();
    await assert.rejects(new SysfsGpio({ root, chip: 'nope', activeLow: false }).open({ green: 4 }), /gpio sysfs: no chip 'nope' \(chips: gpiochip512 \[gpio-brcmstb@107d508500\], gpiochip571 \[pinctrl-rp1\]\)/);
    await assert.rejects(new SysfsGpio({ root, chip: 'pinctrl-rp1', activeLow: false }).open({ red: 60 }), /signals.red \(offset 60 on pinctrl-rp1, base 571 → gpio631\): the chip has only 54 lines/);
    await assert.rejects(new SysfsGpio({ root, chip: 'auto', activeLow: false }).open({ red: 'LED_RED' }), /signals.red = LED_RED: sysfs knows no line names/);
    assert.equal(lineOffset('BCM5'), 5);
  } finally {
    kernel.stop();
  }
});

test('console driver: one line per change of state, each with its time; lines set in one go print once', async () => {
  const lines: string[] = [];
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 14, 3, 27, 412));
  const gpio = new ConsoleGpio((l) => lines.push(l), clock);
  const settled = () => new Promise<void>((resolve) => setImmediate(resolve));
  await gpio.open({ green: 17, red: 27, amber: 22, buzzer: 18 });
  gpio.set('green', true);
  gpio.set('green', true);
  await settled();
  clock.advance(1005);
  // The next person: the buzzer starts and the light turns from green to red, all at once.
  gpio.set('buzzer', true);
  gpio.set('green', false);
  gpio.set('red', true);
  await settled();
  gpio.set('buzzer', false);
  await settled();
  gpio.set('red', false);
  gpio.set('red', true);
  await settled();
  // Set and closed in the same go: the state reached is printed before the lines go off.
  gpio.set('red', false);
  gpio.set('amber', true);
  await gpio.close();
  const t0 = '2026-11-25T14:03:27.412Z';
  const t1 = '2026-11-25T14:03:28.417Z';
  assert.deepEqual(lines, [
    `${t0} [lights] off  buzzer off`,
    `${t0} [lights] GREEN  buzzer off`,
    `${t1} [lights] RED  buzzer ON`,
    `${t1} [lights] RED  buzzer off`,
    `${t1} [lights] AMBER  buzzer off`,
    `${t1} [lights] off  buzzer off`,
  ]);
});

test('auto: chardev needs /dev/gpiochip* and gpioset, else sysfs with chips, else console', () => {
  const dev = path.join(dir, 'dev');
  fs.mkdirSync(dev, { recursive: true });
  const root = path.join(dir, 'c');
  const noSysfs = { ...defaults, sysfsRoot: path.join(dir, 'missing') };
  assert.equal(createGpioDriver(noSysfs, { devDir: dev }).name, 'console');
  const kernel = makeFakeSysfs(root, CHIPS);
  kernel.stop();
  assert.equal(createGpioDriver({ ...defaults, sysfsRoot: root }, { devDir: dev }).name, 'sysfs');
  fs.writeFileSync(path.join(dev, 'gpiochip0'), '');
  const tool = path.join(dir, 'bin-gpioset');
  fs.writeFileSync(tool, '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(createGpioDriver({ ...defaults, sysfsRoot: root, gpiosetPath: tool }, { devDir: dev }).name, 'chardev');
  assert.equal(createGpioDriver({ ...defaults, sysfsRoot: root, gpiosetPath: path.join(dir, 'none') }, { devDir: dev }).name, 'sysfs');
  assert.equal(createGpioDriver({ ...defaults, backend: 'none' }).name, 'none');
});

test('an uncaught exception still turns the lines off (installExitSafety)', () => {
  const root = path.join(dir, 'd');
  const kernel = makeFakeSysfs(root, CHIPS);
  kernel.stop();
  // the line already exported: the child needs no kernel
  fs.mkdirSync(path.join(root, 'gpio588'));
  fs.writeFileSync(path.join(root, 'gpio588', 'direction'), 'in');
  fs.writeFileSync(path.join(root, 'gpio588', 'value'), '0');
  const src = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));
  const script = `
    import { SysfsGpio } from ${src('../src/signals/gpio-sysfs.ts')};
    import { installExitSafety } from ${src('../src/daemon/exit-safety.ts')};
    import fs from 'node:fs';
    const gpio = new SysfsGpio({ root: ${JSON.stringify(root)}, chip: 'pinctrl-rp1', activeLow: false });
    await gpio.open({ red: 17 });
    installExitSafety({ stop: async () => undefined }, { linesOff: () => gpio.offSync() });
    gpio.set('red', true);
    fs.writeFileSync(${JSON.stringify(path.join(dir, 'was-on'))}, fs.readFileSync(${JSON.stringify(path.join(root, 'gpio588', 'value'))}));
    setTimeout(() => { throw new Error('boom'); }, 10);
  `;
  const file = path.join(dir, 'crash.mts');
  fs.writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', cwd: path.dirname(fileURLToPath(import.meta.url)) });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /boom/);
  assert.equal(fs.readFileSync(path.join(dir, 'was-on'), 'utf8'), '1');
  assert.equal(read(root, 588, 'value'), '0');
});
