import fs from 'node:fs';
import path from 'node:path';

export interface FakeChip {
  label: string;
  base: number;
  ngpio: number;
}

/**
 * A fake /sys/class/gpio tree in `root`, with a tiny "kernel" that creates gpioN/ when a
 * number is written to export and removes it on unexport. Returns a stop function.
 */
export function makeFakeSysfs(root: string, chips: FakeChip[]): { stop(): void; exported: number[]; unexported: number[]; valueAtUnexport: Map<number, string> } {
  fs.mkdirSync(root, { recursive: true });
  for (const c of chips) {
    const dir = path.join(root, `gpiochip${c.base}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'label'), c.label + '\n');
    fs.writeFileSync(path.join(dir, 'base'), `${c.base}\n`);
    fs.writeFileSync(path.join(dir, 'ngpio'), `${c.ngpio}\n`);
  }
  fs.writeFileSync(path.join(root, 'export'), '');
  fs.writeFileSync(path.join(root, 'unexport'), '');
  const exported: number[] = [];
  const unexported: number[] = [];
  const valueAtUnexport = new Map<number, string>();
  const take = (file: string): number | null => {
    const text = fs.readFileSync(path.join(root, file), 'utf8').trim();
    if (!text) return null;
    fs.writeFileSync(path.join(root, file), '');
    return Number(text);
  };
  const timer = setInterval(() => {
    const e = take('export');
    if (e !== null) {
      exported.push(e);
      const dir = path.join(root, `gpio${e}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'direction'), 'in\n');
      fs.writeFileSync(path.join(dir, 'value'), '0\n');
    }
    const u = take('unexport');
    if (u !== null) {
      unexported.push(u);
      try {
        valueAtUnexport.set(u, fs.readFileSync(path.join(root, `gpio${u}`, 'value'), 'utf8').trim());
      } catch {
        /* unexport of a line never exported */
      }
      fs.rmSync(path.join(root, `gpio${u}`), { recursive: true, force: true });
    }
  }, 3);
  return { stop: () => clearInterval(timer), exported, unexported, valueAtUnexport };
}
