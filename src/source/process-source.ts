import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, TimerHandle } from '../core/clock.js';
import { createLogger, errorMessage } from '../core/log.js';
import { FrameSourceBase } from './frame-source-base.js';
import { MjpegParser } from './mjpeg-splitter.js';

const log = createLogger('camera');

/** One way to start the capture process. Several are tried in turn until one gives frames. */
export interface SpawnSpec {
  command: string;
  args: string[];
}

export interface ProcessSourceOptions {
  description: string;
  /** Tried in order; the next one is tried when a run ends before its first frame. */
  specs: SpawnSpec[];
  retryInitialMs: number;
  retryMaxMs: number;
  /** No frame for this long (after the first) counts as a failure. */
  stallMs: number;
  /** Exit code 0 after frames means the input ended (a non-looping file): state 'ended', no restart. */
  endsOnCleanExit?: boolean;
  /** SIGTERM, then SIGKILL after this long. */
  killAfterMs?: number;
  maxFrameBytes?: number;
}

const STDERR_TAIL_LINES = 20;

/**
 * A frame source fed by ONE long-lived child process writing MJPEG on stdout.
 * It restarts the process with exponential back-off when it exits, fails or stalls.
 */
export class ProcessFrameSource extends FrameSourceBase {
  readonly description: string;
  private child: ChildProcess | null = null;
  private runId = 0;
  private specIndex = 0;
  private backoffMs: number;
  private framesThisRun = 0;
  private lastFrameAt = 0;
  private stderrTail: string[] = [];
  private retryTimer: TimerHandle | null = null;
  private stallTimer: TimerHandle | null = null;
  private stopping = false;

  constructor(private readonly opts: ProcessSourceOptions, clock: Clock) {
    super(clock);
    this.description = opts.description;
    this.backoffMs = opts.retryInitialMs;
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.setState('starting');
    this.launch();
    const checkEvery = Math.max(50, Math.min(1000, Math.floor(this.opts.stallMs / 4)));
    this.stallTimer = this.clock.setInterval(() => this.checkStall(), checkEvery);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    try {
      if (this.stallTimer) this.clock.clearInterval(this.stallTimer);
      this.stallTimer = null;
    } catch {
      /* nothing to undo */
    }
    try {
      if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    } catch {
      /* nothing to undo */
    }
    try {
      await this.killChild(this.child);
    } catch (err) {
      log.warn(`${this.description}: stopping the capture process: ${errorMessage(err)}`);
    }
    this.child = null;
    this.setState('stopped');
  }

  /** The process id of the running capture process (tests kill it to check recovery). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private launch(): void {
    const spec = this.opts.specs[this.specIndex];
    const run = ++this.runId;
    this.framesThisRun = 0;
    this.lastFrameAt = this.clock.now();
    this.stderrTail = [];
    const parser = new MjpegParser(this.opts.maxFrameBytes);

    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.failed(run, `${spec.command} could not start: ${errorMessage(err)}`);
      return;
    }
    this.child = child;
    let partialLine = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (run !== this.runId) return;
      parser.write(chunk, (jpeg) => this.onFrame(run, jpeg));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      const lines = (partialLine + chunk.toString('utf8')).split(/\r?\n|\r/);
      partialLine = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.stderrTail.push(line.trim());
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.splice(0, this.stderrTail.length - STDERR_TAIL_LINES);
    });
    child.stdout!.on('error', () => undefined);
    child.stderr!.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `${spec.command}: not found (is it installed and on PATH?)` : `${spec.command}: ${err.message}`;
      this.failed(run, why);
    });
    child.on('close', (code, signal) => {
      if (partialLine.trim()) this.stderrTail.push(partialLine.trim());
      if (run !== this.runId || this.stopping) return;
      if (code === 0 && this.opts.endsOnCleanExit && this.framesThisRun > 0) {
        this.child = null;
        this.setState('ended', 'end of input');
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const last = this.stderrTail[this.stderrTail.length - 1];
      this.failed(run, `${spec.command} ${how}${last ? `: ${last}` : ''}`);
    });
  }

  private onFrame(run: number, jpeg: Buffer): void {
    if (run !== this.runId || this.stopping) return;
    this.framesThisRun++;
    this.lastFrameAt = this.clock.now();
    if (this.framesThisRun === 1) {
      this.backoffMs = this.opts.retryInitialMs;
      if (this.state !== 'streaming') this.setState('streaming', this.counters.restarts > 0 ? `again after ${this.counters.restarts} restart(s)` : undefined);
    }
    this.deliver(jpeg);
  }

  private checkStall(): void {
    if (this.stopping || !this.child || this.state === 'ended') return;
    // the first frame may take longer (camera warm-up): allow twice the stall time
    const limit = this.framesThisRun > 0 ? this.opts.stallMs : this.opts.stallMs * 2;
    if (this.clock.now() - this.lastFrameAt < limit) return;
    const run = this.runId;
    const child = this.child;
    this.failed(run, `no frame for ${Math.round((this.clock.now() - this.lastFrameAt) / 1000)} s`);
    void this.killChild(child);
  }

  /**
   * State 'retrying' with the reason and the retry plan as its detail (the daemon logs it: one line per state change,
   * none here), and a restart after the back-off. Only the first failure of a run counts.
   */
  private failed(run: number, why: string): void {
    if (run !== this.runId || this.stopping) return;
    this.runId++; // later events of this run are ignored
    const dead = this.child;
    this.child = null;
    if (dead && dead.pid !== undefined && dead.exitCode === null && dead.signalCode === null) void this.killChild(dead);
    let delay = this.backoffMs;
    const gaveNothing = this.framesThisRun === 0;
    if (gaveNothing && this.specIndex + 1 < this.opts.specs.length) {
      // this way of starting the camera does not work here: try the next one at once
      this.specIndex++;
      delay = 0;
    } else {
      if (gaveNothing) this.specIndex = 0;
      this.backoffMs = Math.min(this.opts.retryMaxMs, Math.max(1, this.backoffMs * 2));
    }
    const next = this.opts.specs[this.specIndex].command;
    this.setState('retrying', `${why}; retrying${next !== this.opts.specs[0].command || this.opts.specs.length > 1 ? ` with ${next}` : ''} in ${delay} ms`);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      if (this.stopping) return;
      this.counters.restarts++;
      this.launch();
    }, delay);
  }

  private killChild(child: ChildProcess | null): Promise<void> {
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const deadline = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }, this.opts.killAfterMs ?? 2000);
      child.once('close', () => {
        clearTimeout(deadline);
        resolve();
      });
      try {
        child.kill('SIGTERM');
      } catch {
        clearTimeout(deadline);
        resolve();
      }
    });
  }
}
