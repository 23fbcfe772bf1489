/**
 * One suite for the GpioDriver seam, run against every implementation (MQTT.js runs one store suite per store):
 * chardev over a fake gpioset (libgpiod v2.1 and v1), sysfs over a fake /sys tree, the console, and the test fake the
 * other tests rely on — so the fake is held to what the real drivers do. Each harness reads the "physical" level.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../src/core/clock.js';
import { setLogSink } from '../src/core/log.js';
import type { GpioDriver } from '../src/core/seams.js';
import { ChardevGpio } from '../src/signals/gpio-chardev.js';
import { ConsoleGpio } from '../src/signals/gpio-console.js';
import { SysfsGpio } from '../src/signals/gpio-sysfs.js';
import { FakeGpio } from './helpers/fake-gpio.js';
import { makeFakeSysfs } from './helpers/fake-gpio-sysfs.js';
import { writeFakeGpioset } from './helpers/fake-gpioset.js';
import { waitFor } from './helpers/mosquitto.js';

const LINES = { green: 17, red: 27, amber: 22, buzzer: 18 } as const;
type Line = keyof typeof LINES;
let dir: string;
let previousSink: ReturnType<typeof setLogSink>;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-gpio-seam-'));
  previousSink = setLogSink(() => undefined);
});
after(() => {
  setLogSink(previousSink);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Harness {
  driver: GpioDriver;
  /** The level the outside world sees on a line now (after close: the level it was left at). */
  level(line: Line): boolean | undefined;
  dispose(): void;
}

/** Levels from a fake gpioset's record: the holder's start values, then each `set a=b …` line. */
function chardevLevels(entries: Array<Record<string, unknown>>): Map<number, boolean> {
  const level = new Map<number, boolean>();
  const apply = (pairs: string[]) => {
    for (const p of pairs) {
      const m = /^(\d+)=([01])$/.exec(p);
      if (m) level.set(Number(m[1]), m[2] === '1');
    }
  };
  for (const e of entries) {
    if (Array.isArray(e.argv)) apply(e.argv as string[]);
    if (typeof e.stdin === 'string' && e.stdin.startsWith('set ')) apply(e.stdin.slice(4).split(' '));
  }
  return level;
}

const HARNESSES: Record<string, (name: string) => Harness> = {
  'chardev (libgpiod v2.1, one interactive gpioset)': (name) => {
    const fake = writeFakeGpioset(path.join(dir, name), 'v2.1.1');
    return { driver: new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'pinctrl-rp1', activeLow: false }), level: (l) => chardevLevels(fake.entries()).get(LINES[l]), dispose: () => undefined };
  },
  'chardev (libgpiod v1, a holder per change)': (name) => {
    const fake = writeFakeGpioset(path.join(dir, name), 'v1.6.3');
    return { driver: new ChardevGpio({ gpiosetPath: fake.gpioset, chip: 'gpiochip0', activeLow: false }), level: (l) => chardevLevels(fake.entries()).get(LINES[l]), dispose: () => undefined };
  },
  'sysfs (kernel ≥ 6.6 base offset)': (name) => {
    const root = path.join(dir, name);
    const kernel = makeFakeSysfs(root, [{ label: 'pinctrl-rp1', base: 571, ngpio: 54 }]);
    const level = (l: Line) => {
      const gpio = 571 + LINES[l];
      const file = path.join(root, `gpio${gpio}`, 'value');
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : kernel.valueAtUnexport.get(gpio);
      return text === undefined ? undefined : text === '1';
    };
    return { driver: new SysfsGpio({ root, chip: 'pinctrl-rp1', activeLow: false }), level, dispose: () => kernel.stop() };
  },
  console: () => {
    const lines: string[] = [];
    const level = (l: Line) => {
      const last = lines.at(-1);
      if (!last) return undefined;
      return l === 'buzzer' ? / buzzer ON/.test(last) : new RegExp(`\\b${l.toUpperCase()}\\b`).test(last);
    };
    return { driver: new ConsoleGpio((line) => lines.push(line)), level, dispose: () => undefined };
  },
  'the test fake': () => {
    const fake = new FakeGpio(new ManualClock());
    return { driver: fake, level: (l) => fake.state.get(l), dispose: () => undefined };
  },
};

const expectLevels = (h: Harness, on: Line[], what: string) =>
  waitFor(what, () => (Object.keys(LINES) as Line[]).every((l) => h.level(l) === on.includes(l)), 5000);

for (const [name, make] of Object.entries(HARNESSES)) {
  describe(`GpioDriver: ${name}`, () => {
    test('open claims every line off; set turns one line on and off; an unknown line changes nothing', async () => {
      const h = make(`${name.replace(/\W+/g, '-')}-a`);
      try {
        await h.driver.open({ ...LINES });
        await expectLevels(h, [], 'all off after open');
        h.driver.set('red', true);
        await expectLevels(h, ['red'], 'red on');
        h.driver.set('buzzer', true);
        h.driver.set('nonexistent', true);
        await expectLevels(h, ['red', 'buzzer'], 'red and buzzer on');
        h.driver.set('red', false);
        h.driver.set('buzzer', false);
        await expectLevels(h, [], 'all off again');
        h.driver.set('green', true);
        await expectLevels(h, ['green'], 'green on');
        await h.driver.close();
        await expectLevels(h, [], 'close leaves every line off');
      } finally {
        h.dispose();
      }
    });

    test('offSync: every line off at once, synchronously, and it never throws (also twice, also after close)', async () => {
      const h = make(`${name.replace(/\W+/g, '-')}-b`);
      try {
        await h.driver.open({ ...LINES });
        h.driver.set('amber', true);
        await expectLevels(h, ['amber'], 'amber on');
        h.driver.offSync();
        assert.equal(h.level('amber'), false, 'off before offSync returned');
        h.driver.offSync();
        await h.driver.close();
        h.driver.offSync();
        await expectLevels(h, [], 'all off');
      } finally {
        h.dispose();
      }
    });
  });
}
