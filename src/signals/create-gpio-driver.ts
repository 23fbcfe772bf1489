import { findExecutable } from '../core/executables.js';
import fs from 'node:fs';
import type { MaskwatchConfig } from '../config/schema.js';
import type { GpioDriver } from '../core/seams.js';
import { createLogger } from '../core/log.js';
import { ChardevGpio } from './gpio-chardev.js';
import { ConsoleGpio, NullGpio } from './gpio-console.js';
import { listSysfsChips, SysfsGpio } from './gpio-sysfs.js';

const log = createLogger('gpio');

type SignalsConfig = MaskwatchConfig['signals'];

/** An executable by path, or found on PATH. */

export function hasGpioChardev(devDir = '/dev'): boolean {
  try {
    return fs.readdirSync(devDir).some((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return false;
  }
}

/** signals.backend → a driver; auto: chardev (a /dev/gpiochip* and gpioset), else sysfs (chips under sysfsRoot), else console. */
export function createGpioDriver(signals: SignalsConfig, opts: { devDir?: string; write?: (line: string) => void } = {}): GpioDriver {
  const chardev = () => new ChardevGpio({ gpiosetPath: signals.gpiosetPath, chip: signals.chip, activeLow: signals.activeLow });
  const sysfs = () => new SysfsGpio({ root: signals.sysfsRoot, chip: signals.chip, activeLow: signals.activeLow });
  switch (signals.backend) {
    case 'chardev':
      return chardev();
    case 'sysfs':
      return sysfs();
    case 'console':
      return new ConsoleGpio(opts.write);
    case 'none':
      return new NullGpio();
    default: {
      const devDir = opts.devDir ?? '/dev';
      const chips = hasGpioChardev(devDir);
      const gpioset = findExecutable(signals.gpiosetPath);
      if (chips && gpioset) return chardev();
      if (listSysfsChips(signals.sysfsRoot).length > 0) return sysfs();
      const chardevMiss = chips ? `${devDir}/gpiochip* is there but ${signals.gpiosetPath} (signals.gpiosetPath) was not found` : `no ${devDir}/gpiochip*`;
      log.warn(`signals.backend auto: no GPIO found (chardev: ${chardevMiss}; sysfs: no gpiochip* in ${signals.sysfsRoot}): the lights and the buzzer go to the console`);
      return new ConsoleGpio(opts.write);
    }
  }
}
