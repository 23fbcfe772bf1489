/**
 * A small tmpfs of our own for fault injection: it fills up (ENOSPC) and can be remounted read-only
 * (EROFS) while files in it stay where they are. Mounting needs root (CAP_SYS_ADMIN); where that is
 * not allowed, mountTmpfs returns the reason and the test skips.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class Tmpfs {
  private filler = 0;

  private constructor(readonly dir: string) {}

  /** A fresh tmpfs of sizeKb; a string (why not) when this machine does not let us mount one. */
  static mount(sizeKb: number): Tmpfs | string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mw-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      fs.rmdirSync(dir);
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n')[0];
      return `cannot mount a tmpfs here (${stderr || (err as Error).message})`;
    }
    return new Tmpfs(dir);
  }

  readOnly(): void {
    execFileSync('mount', ['-o', 'remount,ro', this.dir], { stdio: 'pipe' });
  }

  writable(): void {
    execFileSync('mount', ['-o', 'remount,rw', this.dir], { stdio: 'pipe' });
  }

  /** Writes filler files until the file system is full; returns how many bytes they hold. */
  fill(): number {
    let written = 0;
    const chunk = Buffer.alloc(4096, 0x55);
    const file = path.join(this.dir, `filler-${++this.filler}`);
    const fd = fs.openSync(file, 'w');
    try {
      for (;;) written += fs.writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      fs.closeSync(fd);
    }
    return written;
  }

  /** Removes the filler files: the space is back. */
  unfill(): void {
    for (const name of fs.readdirSync(this.dir)) if (name.startsWith('filler-')) fs.rmSync(path.join(this.dir, name));
  }

  dispose(): void {
    try {
      execFileSync('umount', [this.dir], { stdio: 'pipe' });
      fs.rmdirSync(this.dir);
    } catch {
      // Already gone, or still busy: the lazy unmount below still detaches it.
      try {
        execFileSync('umount', ['-l', this.dir], { stdio: 'pipe' });
      } catch {}
    }
  }
}
