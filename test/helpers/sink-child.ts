/**
 * An MqttEventSink in a process of its own, as the daemon runs it, driven line by line on stdin:
 * `event` → publishEvent, answers `stored` or `rejected <message>`; `stats` → publishStats;
 * `stop` → stop() and exit 0. It prints `connected` once the broker has it.
 * Env: MW_URL (broker), MW_STATE (state dir).
 * Use startSinkChild() from a test; it spawns this file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..', '..');

export interface SinkChild {
  child: ChildProcess;
  /** stdout lines so far. */
  out: string[];
  /** stderr so far (the sink's log lines). */
  stderr(): string;
  /** Sends one command line. */
  send(line: string): void;
}

export function startSinkChild(env: { url: string; stateDir: string }): SinkChild {
  const child = spawn(process.execPath, ['--import', 'tsx', HERE], {
    cwd: ROOT,
    env: { ...process.env, MW_CHILD: '1', MW_URL: env.url, MW_STATE: env.stateDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let err = '';
  readline.createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, out, stderr: () => err, send: (line) => child.stdin!.write(`${line}\n`) };
}

async function main(): Promise<void> {
  const { loadConfig } = await import('../../src/config/load.js');
  const { MqttEventSink } = await import('../../src/events/mqtt-sink.js');
  const mqtt = loadConfig({ overrides: { 'mqtt.url': process.env.MW_URL }, env: {} }).config.mqtt;
  const sink = new MqttEventSink({ mqtt, deviceId: 'door1', stateDir: process.env.MW_STATE!, env: {}, reconnectInitialMs: 50, reconnectMaxMs: 200 });
  await sink.start();
  const timer = setInterval(() => {
    if (sink.connected) {
      clearInterval(timer);
      console.log('connected');
    }
  }, 10);
  let track = 0;
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === 'event') {
      try {
        await sink.publishEvent({ decision: { trackId: ++track, label: 'no_mask', score: 0.9, frames: 4, durationMs: 500, firstSeenAt: 0, decidedAt: 500 }, model: { name: 'm', sha256: 'x' }, source: 'test' });
        console.log('stored');
      } catch (err) {
        console.log(`rejected ${(err as Error).message}`);
      }
    } else if (line === 'stats') {
      sink.publishStats({ framesInPerS: 0, framesProcessedPerS: 0, droppedFrames: 0, latencyP50Ms: 0, latencyP95Ms: 0, cpuTempC: null, rssMb: 0, uptimeS: 0, outboxDepth: 0, cameraState: 'streaming', cameraRestarts: 0 });
      console.log('stats sent');
    } else if (line === 'stop') {
      clearInterval(timer);
      await sink.stop();
      process.exit(0);
    }
  }
}

if (process.env.MW_CHILD === '1' && process.argv[1] && path.resolve(process.argv[1]) === HERE) await main();
