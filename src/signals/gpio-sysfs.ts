import fs from 'node:fs';
import path from 'node:path';
import type { GpioDriver } from '../core/seams.js';
import { createLogger } from '../core/log.js';

const log = createLogger('gpio');

/** Chips that carry a board's header pins (Pi 5, Pi 4, older Pis, Jetson). */
export const KNOWN_HEADER_CHIPS = ['pinctrl-rp1', 'pinctrl-bcm2712', 'pinctrl-bcm2711', 'pinctrl-bcm2835', 'tegra234-gpio', 'tegra194-gpio', 'tegra-gpio'];

export interface SysfsChip {
  /** Folder name under the sysfs root: gpiochip<base>. */
  dir: string;
  label: string;
  base: number;
  ngpio: number;
  /** The character-device name (gpiochip0) when sysfs tells it. */
  deviceName: string | null;
}

export function listSysfsChips(root: string): SysfsChip[] {
  let names: string[];
  try {
    names = fs.readdirSync(root).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
  const chips: SysfsChip[] = [];
  for (const dir of names) {
    try {
      const read = (f: string) => fs.readFileSync(path.join(root, dir, f), 'utf8').trim();
      let deviceName: string | null = null;
      try {
        const dev = path.basename(fs.realpathSync(path.join(root, dir, 'device')));
        if (/^gpiochip\d+$/.test(dev)) deviceName = dev;
      } catch {
        /* older kernels and fake trees have no device link */
      }
      chips.push({ dir, label: read('label'), base: Number(read('base')), ngpio: Number(read('ngpio')), deviceName });
    } catch {
      /* a chip folder we cannot read is not ours to use */
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** A line offset from a config value: 17, "17", "GPIO17" or "BCM17" (sysfs has no line names). */
export function lineOffset(value: number | string): number | null {
  if (typeof value === 'number') return value;
  const m = /^(?:GPIO|BCM)?(\d+)$/i.exec(value);
  return m ? Number(m[1]) : null;
}

export function pickSysfsChip(chips: SysfsChip[], wanted: string, maxOffset: number): SysfsChip {
  const available = chips.map((c) => `${c.dir} [${c.label}]`).join(', ') || 'none';
  if (wanted !== 'auto') {
    const chip = chips.find((c) => c.dir === wanted || c.label === wanted || c.deviceName === wanted);
    if (!chip) throw new Error(`gpio sysfs: no chip '${wanted}' (chips: ${available})`);
    return chip;
  }
  const fits = chips.filter((c) => c.ngpio > maxOffset);
  const chip = fits.find((c) => KNOWN_HEADER_CHIPS.includes(c.label)) ?? fits[0];
  if (!chip) throw new Error(`gpio sysfs: no chip with line ${maxOffset} (chips: ${available})`);
  return chip;
}

export interface SysfsGpioOptions {
  root: string;
  chip: string;
  activeLow: boolean;
  /** How long to wait for udev to make a freshly exported line writable. */
  exportWaitMs?: number;
}

/**
 * The old sysfs interface. The line number is the chip's base + offset: kernels ≥ 6.6 give
 * chips bases such as 512 or 571, so BCM 17 on a Pi 5 is gpio588, not gpio17.
 */
export class SysfsGpio implements GpioDriver {
  readonly name = 'sysfs';
  private lines = new Map<string, { gpio: number; valueFile: string; exported: boolean }>();
  private failing = new Set<string>();

  constructor(private readonly opts: SysfsGpioOptions) {}

  async open(lines: Record<string, number | string>): Promise<void> {
    const offsets = new Map<string, number>();
    for (const [key, value] of Object.entries(lines)) {
      const offset = lineOffset(value);
      if (offset === null) throw new Error(`gpio sysfs: signals.${key} = ${value}: sysfs knows no line names; give the offset (such as 17)`);
      offsets.set(key, offset);
    }
    const chip = pickSysfsChip(listSysfsChips(this.opts.root), this.opts.chip, Math.max(0, ...offsets.values()));
    const off = this.opts.activeLow ? 'high' : 'low';
    for (const [key, offset] of offsets) {
      const gpio = chip.base + offset;
      const dir = path.join(this.opts.root, `gpio${gpio}`);
      const where = `signals.${key} (offset ${offset} on ${chip.label}, base ${chip.base} → gpio${gpio})`;
      if (offset >= chip.ngpio) throw new Error(`gpio sysfs: ${where}: the chip has only ${chip.ngpio} lines`);
      let exported = false;
      if (!fs.existsSync(dir)) {
        try {
          fs.writeFileSync(path.join(this.opts.root, 'export'), String(gpio));
          exported = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw new Error(`gpio sysfs: ${where}: export failed: ${(err as Error).message}`);
        }
      }
      this.lines.set(key, { gpio, valueFile: path.join(dir, 'value'), exported });
      // 'low'/'high' makes it an output at the given level in one step (no glitch)
      await this.retryWrite(path.join(dir, 'direction'), off, where);
    }
  }

  set(line: string, on: boolean): void {
    const l = this.lines.get(line);
    if (!l) return;
    try {
      fs.writeFileSync(l.valueFile, on !== this.opts.activeLow ? '1' : '0');
      this.failing.delete(line);
    } catch (err) {
      // called from timers: a failing line is logged once, never thrown into the daemon
      if (!this.failing.has(line)) log.error(`gpio sysfs: setting ${line} (gpio${l.gpio}): ${(err as Error).message}`);
      this.failing.add(line);
    }
  }

  async close(): Promise<void> {
    this.offSync();
    for (const l of this.lines.values()) {
      if (!l.exported) continue;
      try {
        fs.writeFileSync(path.join(this.opts.root, 'unexport'), String(l.gpio));
        // the kernel removes gpioN/ at once; wait briefly so a slower tree (a test's) keeps up
        const deadline = Date.now() + 200;
        while (fs.existsSync(path.dirname(l.valueFile)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      } catch {
        /* already gone */
      }
    }
    this.lines.clear();
  }

  offSync(): void {
    for (const l of this.lines.values()) {
      try {
        fs.writeFileSync(l.valueFile, this.opts.activeLow ? '1' : '0');
      } catch {
        /* best effort on the way out */
      }
    }
  }

  private async retryWrite(file: string, data: string, where: string): Promise<void> {
    const deadline = Date.now() + (this.opts.exportWaitMs ?? 1000);
    for (;;) {
      try {
        fs.writeFileSync(file, data);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'EACCES') || Date.now() > deadline) {
          throw new Error(`gpio sysfs: ${where}: cannot make it an output: ${code ?? (err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}
