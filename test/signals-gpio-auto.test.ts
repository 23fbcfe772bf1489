/** signals.backend auto: falling back to console lights is a WARN that names what was looked for. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import convict from 'convict';
import { setLogSink } from '../src/core/log.js';
import { createGpioDriver } from '../src/signals/create-gpio-driver.js';
import { schema, type MaskwatchConfig } from '../src/config/schema.js';

const defaults = convict<MaskwatchConfig>(schema as unknown as convict.Schema<MaskwatchConfig>, { env: {} }).getProperties().signals;
let dir: string;
const lines: Array<{ line: string; level: string }> = [];
let previousSink: ReturnType<typeof setLogSink>;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-gpio-auto-'));
  previousSink = setLogSink((line, level) => lines.push({ line, level }));
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('no chip at all: console lights and one WARN naming /dev/gpiochip* and the sysfs folder', () => {
  const dev = path.join(dir, 'dev');
  fs.mkdirSync(dev);
  lines.length = 0;
  const driver = createGpioDriver({ ...defaults, sysfsRoot: path.join(dir, 'no-sysfs') }, { devDir: dev, write: () => undefined });
  assert.equal(driver.name, 'console');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, 'warn');
  assert.match(lines[0].line, new RegExp(`WARN .*signals\\.backend auto: no GPIO found \\(chardev: no ${dev}/gpiochip\\*; sysfs: no gpiochip\\* in ${dir}/no-sysfs\\): the lights and the buzzer go to the console`));
});

test('a chip but no gpioset: the WARN names the missing tool', () => {
  const dev = path.join(dir, 'dev2');
  fs.mkdirSync(dev);
  fs.writeFileSync(path.join(dev, 'gpiochip0'), '');
  lines.length = 0;
  const gpioset = path.join(dir, 'nowhere', 'gpioset');
  const driver = createGpioDriver({ ...defaults, sysfsRoot: path.join(dir, 'no-sysfs'), gpiosetPath: gpioset }, { devDir: dev, write: () => undefined });
  assert.equal(driver.name, 'console');
  assert.match(lines.map((l) => l.line).join('\n'), new RegExp(`WARN .*${dev}/gpiochip\\* is there but ${gpioset} \\(signals\\.gpiosetPath\\) was not found`));
});

test('asking for the console is not a warning', () => {
  lines.length = 0;
  assert.equal(createGpioDriver({ ...defaults, backend: 'console' }, { write: () => undefined }).name, 'console');
  assert.deepEqual(lines, []);
});
