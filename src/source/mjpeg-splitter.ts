
/**
 * Cuts a byte stream into whole JPEGs. After SOI it walks marker segments by their
 * lengths up to SOS, then scans the entropy-coded data for a marker (FF xx, xx not 00
 * and not RSTn): EOI ends the frame, any other marker (a progressive JPEG's next DHT or
 * SOS) goes back to walking segments. So a thumbnail inside APP1 cannot end a frame early.
 */
export interface SplitterStats {
  frames: number;
  /** Bytes skipped outside any frame. */
  garbageBytes: number;
  /** Frames dropped because they grew past maxFrameBytes. */
  oversized: number;
  /** Frames cut short by a new SOI or a broken marker segment. */
  broken: number;
}

export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

type Phase = 'seek' | 'segments' | 'scan';

export class MjpegParser {
  private buf: Buffer;
  private len = 0;
  /** Parse position inside buf; bytes before `start` are already consumed. */
  private pos = 0;
  private phase: Phase = 'seek';
  readonly stats: SplitterStats = { frames: 0, garbageBytes: 0, oversized: 0, broken: 0 };

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.buf = Buffer.allocUnsafe(Math.min(256 * 1024, maxFrameBytes + 2));
  }

  /** Feeds a chunk; calls `onFrame` with a copy of each JPEG completed by it. */
  write(chunk: Uint8Array, onFrame: (jpeg: Buffer) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      // Copy as much as fits under the frame limit, parse, repeat: memory stays bounded.
      const room = this.maxFrameBytes + 2 - this.len;
      if (room <= 0) {
        this.dropOversized();
        continue;
      }
      const take = Math.min(room, chunk.length - offset);
      this.append(chunk.subarray(offset, offset + take));
      offset += take;
      this.parse(onFrame);
      if (this.phase !== 'seek' && this.len > this.maxFrameBytes) this.dropOversized();
    }
  }

  private append(data: Uint8Array): void {
    if (this.len + data.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.len + data.length, Math.min(this.buf.length * 2, this.maxFrameBytes + 2)));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  private dropOversized(): void {
    this.stats.oversized++;
    this.len = 0;
    this.pos = 0;
    this.phase = 'seek';
  }

  /** Drops everything before `from` (the frame, if any, starts at 0 afterwards). */
  private discard(from: number): void {
    this.buf.copyWithin(0, from, this.len);
    this.len -= from;
    this.pos -= from;
  }

  private parse(onFrame: (jpeg: Buffer) => void): void {
    const b = this.buf;
    for (;;) {
      if (this.phase === 'seek') {
        const soi = this.findSoi(this.pos);
        if (soi < 0) {
          // keep a trailing FF: it may be the first half of an SOI
          const keep = this.len > 0 && b[this.len - 1] === 0xff ? 1 : 0;
          this.stats.garbageBytes += this.len - keep;
          this.discard(this.len - keep);
          this.pos = 0;
          return;
        }
        this.stats.garbageBytes += soi;
        this.discard(soi);
        this.pos = 2;
        this.phase = 'segments';
      }
      if (this.phase === 'segments') {
        // at pos: a marker (fill bytes FF FF … allowed)
        let p = this.pos;
        while (p < this.len && b[p] === 0xff && p + 1 < this.len && b[p + 1] === 0xff) p++;
        if (p + 1 >= this.len) {
          this.pos = p;
          return;
        }
        if (b[p] !== 0xff) {
          this.restartAfterBroken(1);
          continue;
        }
        const marker = b[p + 1];
        if (marker === 0xd8) {
          this.restartAfterBroken(p);
          continue;
        }
        if (marker === 0xd9) {
          this.emit(p + 2, onFrame);
          continue;
        }
        if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
          this.pos = p + 2;
          continue;
        }
        if (p + 3 >= this.len) {
          this.pos = p;
          return;
        }
        const segLen = b.readUInt16BE(p + 2);
        if (segLen < 2) {
          this.restartAfterBroken(p + 2);
          continue;
        }
        const end = p + 2 + segLen;
        if (end > this.len) {
          this.pos = p;
          return;
        }
        this.pos = end;
        if (marker === 0xda) this.phase = 'scan';
        continue;
      }
      // scan: entropy-coded data until a real marker
      const data = b.subarray(0, this.len);
      let p = this.pos;
      for (;;) {
        const ff = data.indexOf(0xff, p);
        if (ff < 0 || ff >= this.len) {
          this.pos = this.len;
          return;
        }
        if (ff + 1 >= this.len) {
          this.pos = ff;
          return;
        }
        const next = b[ff + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
          p = next === 0xff ? ff + 1 : ff + 2;
          continue;
        }
        if (next === 0xd9) {
          this.emit(ff + 2, onFrame);
        } else if (next === 0xd8) {
          this.restartAfterBroken(ff);
        } else {
          this.pos = ff;
          this.phase = 'segments';
        }
        break;
      }
    }
  }

  private findSoi(from: number): number {
    const data = this.buf.subarray(0, this.len);
    let p = from;
    for (;;) {
      const ff = data.indexOf(0xff, p);
      if (ff < 0 || ff + 1 >= this.len) return -1;
      if (this.buf[ff + 1] === 0xd8) return ff;
      p = ff + 1;
    }
  }

  private emit(end: number, onFrame: (jpeg: Buffer) => void): void {
    const jpeg = Buffer.from(this.buf.subarray(0, end));
    this.discard(end);
    this.pos = 0;
    this.phase = 'seek';
    this.stats.frames++;
    onFrame(jpeg);
  }

  /** The frame in progress is broken: count it and look for the next SOI from `from`. */
  private restartAfterBroken(from: number): void {
    this.stats.broken++;
    this.discard(from);
    this.pos = 0;
    this.phase = 'seek';
  }
}

/** Splits a whole buffer (a .mjpeg file) into its JPEGs. */
export function splitMjpeg(data: Uint8Array, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer[] {
  const frames: Buffer[] = [];
  new MjpegParser(maxFrameBytes).write(data, (f) => frames.push(f));
  return frames;
}
