/**
 * `precision: auto` for the classifier and the SSD: which file runs is measured on this CPU, not assumed.
 *
 * The int8 files store signed int8 weights (ONNX Runtime's u8×s8 kernels). Those are exact only where the CPU sums
 * int8 products without int16 saturation: x86 with VNNI (avx512_vnni, avx_vnni) or AMX, and every arm64 CPU (widening
 * multiply-adds; asimddp / i8mm make them fast). On x86 without VNNI they saturate (86 % instead of 95 % label agreement,
 * measured), so auto keeps float there without timing anything. Elsewhere it opens both files with the session options
 * that will run, times them interleaved on a real input, checks that int8 gives float's answers on the built-in check
 * set (models/precision-check), and keeps int8 only when it agrees and is faster. The choice is cached in stateDir per
 * CPU (model name + flags), model sha256s, ONNX Runtime version, thread count and how the files run (the SSD's int8
 * stem read as 4 channels on x64), so it is measured once.
 */
import { ortBackend } from '../onnx/session.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { RgbImage } from '../core/image.js';
import type { PrecisionReport } from '../core/seams.js';
import { writeFileAtomic } from '../core/files.js';
import { createLogger, errorMessage } from '../core/log.js';
import { REPO_ROOT } from '../core/paths.js';
import { readImageFile } from './image-decode.js';

const log = createLogger('precision');

export type Precision = 'float' | 'int8';
export type PrecisionSetting = Precision | 'auto';

/** The built-in check set: face crops (classifier) and 640×480 frames (detector), shipped with the code. */
export const PRECISION_CHECK_DIR = path.join(REPO_ROOT, 'models', 'precision-check');
export const CHOICE_FILE = 'precision-choice.json';
/** int8 must give float's answer on every check item (18 crops, 6 frames: one miss is already below 0.99). */
export const AGREEMENT_TARGET = 0.99;
const DEFAULT_ROUNDS = 25;
const WARMUP = 3;

/** /proc/cpuinfo flags (x86 `flags`, Arm `Features`) that give ONNX Runtime int8 dot-product kernels. */
export const INT8_FEATURES = ['avx512_vnni', 'avx_vnni', 'avx_vnni_int8', 'amx_int8', 'asimddp', 'i8mm', 'sve2'] as const;
const EXACT_ON_X86 = ['avx512_vnni', 'avx_vnni', 'avx_vnni_int8', 'amx_int8'];

export interface CpuInt8 {
  model: string;
  arch: string;
  /** The INT8_FEATURES this CPU has. */
  features: string[];
  /** sha256 (16 hex) of the model name and every flag: the cache is per CPU model. */
  key: string;
  /** u8 activations × s8 weights are computed without saturation here. */
  signedWeightsExact: boolean;
}

export function readCpuInt8(cpuinfo?: string, arch: string = process.arch): CpuInt8 {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      text = '';
    }
  }
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'mi').exec(text!)?.[1]?.trim() || undefined;
  const part = [field('CPU implementer'), field('CPU part')].filter(Boolean).join('/');
  const model = field('model name') ?? field('Model') ?? (part ? `Arm ${part}` : undefined) ?? os.cpus()[0]?.model ?? 'unknown CPU';
  const flags = (field('flags') ?? field('Features') ?? '').split(/\s+/).filter(Boolean);
  const features = INT8_FEATURES.filter((f) => flags.includes(f));
  const key = createHash('sha256').update([model, part, [...flags].sort().join(' ')].join('\n')).digest('hex').slice(0, 16);
  const signedWeightsExact = arch === 'arm64' || features.some((f) => EXACT_ON_X86.includes(f));
  return { model, arch, features, key, signedWeightsExact };
}

/** "avx512_vnni avx_vnni (u8×s8 exact)" – what the bench prints next to every int8 figure. */
export function describeCpuInt8(cpu: CpuInt8 = readCpuInt8()): string {
  return `${cpu.features.length ? cpu.features.join(' ') : 'no int8 dot product'} (${cpu.arch}, u8×s8 ${cpu.signedWeightsExact ? 'exact' : 'saturates'})`;
}

const checkImages = new Map<string, Promise<RgbImage[]>>();

/** The pictures of one part of the check set ('crops': face crops, 'frames': 640×480 frames), by path; [] without it. */
export function loadCheckImages(part: 'crops' | 'frames', dir = PRECISION_CHECK_DIR): Promise<RgbImage[]> {
  const root = path.join(dir, part);
  let loading = checkImages.get(root);
  if (!loading) {
    loading = (async () => {
      const files: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else if (/\.(jpe?g|png)$/i.test(e.name)) files.push(path.join(d, e.name));
        }
      };
      if (fs.existsSync(root)) walk(root);
      const images: RgbImage[] = [];
      for (const f of files) images.push(await readImageFile(f));
      return images;
    })();
    checkImages.set(root, loading);
  }
  return loading;
}

export interface ModelFileId {
  file: string;
  sha256: string;
}

/** One opened model file, as it will run. */
export interface PrecisionCandidate<A> {
  /** One inference on the realistic input (a face crop, a camera frame). */
  run(): Promise<unknown>;
  /** The model's answer on each check item (a label, a set of face boxes). */
  answers(): Promise<A[]>;
  close(): Promise<void>;
}

export interface AutoPrecision<A> {
  what: 'classifier' | 'detector';
  files: { float: ModelFileId; int8: ModelFileId | null };
  /** How the int8 file stores its weights (from its card or record); 'unknown' is treated as signed. */
  int8Weights: 'int8' | 'uint8' | 'unknown';
  open(precision: Precision): Promise<PrecisionCandidate<A>>;
  same(a: A, b: A): boolean;
  /** What the check items are, for the log: "check crops", "check frames". */
  checkName: string;
  /** The config's stateDir: the choice survives restarts there. null: this process only. */
  stateDir: string | null;
  threads: number;
  /** How the files run beyond their bytes (the SSD's int8 stem read as 4 channels): a change measures again. */
  runsAs?: string;
  cpu?: CpuInt8;
  /** The timer (ms); default: this process's CPU time (see processCpuMs). Tests pass a fake one. */
  now?: () => number;
  rounds?: number;
}

export interface PrecisionChoice extends PrecisionReport {
  setting: 'auto';
  agreement: { same: number; of: number } | null;
  cached: boolean;
}

type CacheFile = { version: 1; choices: Record<string, Omit<PrecisionChoice, 'cached'> & { measuredAt: string; cpu: string }> };

/** Choices made without a stateDir (eval, the trainer, tests): measured once per process. */
const memo = new Map<string, PrecisionChoice>();

/** Resolves `auto` to float or int8 (see the file comment); one log line says which and why. */
export async function choosePrecision<A>(input: AutoPrecision<A>): Promise<PrecisionChoice> {
  const cpu = input.cpu ?? readCpuInt8();
  const key = [input.what, cpu.key, input.files.float.sha256.slice(0, 16), input.files.int8?.sha256.slice(0, 16) ?? 'none', `ort ${ortVersion()} ${await ortBackend()}`, `${input.threads}t`, ...(input.runsAs ? [input.runsAs] : [])].join(' ');
  const cacheFile = input.stateDir ? path.join(input.stateDir, CHOICE_FILE) : null;
  if (!cacheFile && memo.has(key)) return memo.get(key)!;
  const known = cacheFile ? readCache(cacheFile)?.choices[key] : undefined;
  if (known && (known.running === 'float' || known.running === 'int8') && typeof known.reason === 'string') {
    const choice: PrecisionChoice = { setting: 'auto', running: known.running, reason: known.reason, floatMs: known.floatMs ?? null, int8Ms: known.int8Ms ?? null, agreement: known.agreement ?? null, cached: true };
    // The daemon's start line and stats say which precision runs; the CLI commands stay quiet about it.
    log.debug(`${input.what}: ${choice.running} (auto, as measured on this CPU at ${known.measuredAt}, kept in ${cacheFile}): ${choice.reason}`);
    return choice;
  }
  const { choice, keep } = await measureChoice(input, cpu);
  if (!keep) {
    log.warn(`${input.what}: float (auto): ${choice.reason}`);
    return choice;
  }
  log.debug(`${input.what}: ${choice.running} (auto): ${choice.reason}; CPU ${cpu.model}, ${describeCpuInt8(cpu)}`);
  if (cacheFile) saveChoice(cacheFile, key, choice, cpu);
  else memo.set(key, choice);
  return choice;
}

/** The report for a precision set in the config (nothing measured). */
export function fixedPrecision(setting: Precision, running: Precision, reason = 'set in the config'): PrecisionReport {
  return { setting, running, reason, floatMs: null, int8Ms: null };
}

/** The choice, and whether it may be kept (not when int8 could not be checked: a fixed file is tried next start). */
async function measureChoice<A>(input: AutoPrecision<A>, cpu: CpuInt8): Promise<{ choice: PrecisionChoice; keep: boolean }> {
  const decided = (precision: Precision, reason: string, floatMs: number | null = null, int8Ms: number | null = null, agreement: PrecisionChoice['agreement'] = null) => ({
    keep: true,
    choice: {
      setting: 'auto' as const,
      running: precision,
      reason,
      floatMs: floatMs === null ? null : round2(floatMs),
      int8Ms: int8Ms === null ? null : round2(int8Ms),
      agreement,
      cached: false,
    },
  });
  if (!input.files.int8) return decided('float', 'the model has no int8 file');
  if (input.int8Weights !== 'uint8' && !cpu.signedWeightsExact) return decided('float', `its int8 weights would saturate on this CPU (no ${EXACT_ON_X86.slice(0, 2).join(' or ')}), so int8 was not tried`);
  const float = await input.open('float');
  let int8: PrecisionCandidate<A> | undefined;
  try {
    let floatAnswers: A[];
    let int8Answers: A[];
    try {
      int8 = await input.open('int8');
      [floatAnswers, int8Answers] = [await float.answers(), await int8.answers()];
    } catch (err) {
      // A broken int8 file or a missing check set: float runs.
      return { ...decided('float', `int8 could not be checked (${errorMessage(err).split('\n')[0]})`), keep: false };
    }
    const same = floatAnswers.filter((a, i) => input.same(a, int8Answers[i]!)).length;
    const agreement = { same, of: floatAnswers.length };
    const { floatMs, int8Ms, runs } = await timeInterleaved(float, int8, input.now ?? processCpuMs, input.rounds ?? DEFAULT_ROUNDS);
    const timing = `int8 ${int8Ms.toFixed(2)} ms, float ${floatMs.toFixed(2)} ms (medians of ${runs} runs each, ${input.threads} thread${input.threads === 1 ? '' : 's'}${input.now ? '' : ', CPU time'})`;
    const agreed = `int8 gave float's answer on ${same} of ${agreement.of} ${input.checkName}`;
    if (agreement.of === 0 || same / agreement.of < AGREEMENT_TARGET) return decided('float', `${agreed}, below the ${100 * AGREEMENT_TARGET} % target; ${timing}`, floatMs, int8Ms, agreement);
    if (int8Ms >= floatMs) return decided('float', `int8 is not faster: ${timing}; ${agreed}`, floatMs, int8Ms, agreement);
    return decided('int8', `int8 is faster: ${timing}; ${agreed}`, floatMs, int8Ms, agreement);
  } finally {
    await int8?.close();
    await float.close();
  }
}

/**
 * CPU time of this process in ms. With one intra-op thread a run's CPU time is its wall time minus the time other
 * processes had the core, so a busy machine (a camera process, an upgrade running) does not skew the comparison.
 */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median time of one run of each, alternating which goes first, so a change in load hits both alike. */
async function timeInterleaved(a: PrecisionCandidate<unknown>, b: PrecisionCandidate<unknown>, now: () => number, rounds: number): Promise<{ floatMs: number; int8Ms: number; runs: number }> {
  for (let i = 0; i < WARMUP; i++) {
    await a.run();
    await b.run();
  }
  const times: [number[], number[]] = [[], []];
  const once = async (c: PrecisionCandidate<unknown>, into: number[]) => {
    const t0 = now();
    await c.run();
    into.push(now() - t0);
  };
  for (let r = 0; r < rounds; r++) {
    if (r % 2) {
      await once(a, times[0]);
      await once(b, times[1]);
    } else {
      await once(b, times[1]);
      await once(a, times[0]);
    }
  }
  return { floatMs: median(times[0]), int8Ms: median(times[1]), runs: rounds };
}

function readCache(file: string): CacheFile | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null; // not there yet; a folder that cannot be used is said once, when the choice cannot be saved
  }
  try {
    const parsed = JSON.parse(text) as CacheFile;
    if (parsed?.version !== 1 || typeof parsed.choices !== 'object' || parsed.choices === null || Array.isArray(parsed.choices)) throw new Error('not a precision-choice file of version 1');
    return parsed;
  } catch (err) {
    log.warn(`${file}: ignored, it is corrupt (${errorMessage(err).split('\n')[0]}); measuring again`);
    return null;
  }
}

function saveChoice(file: string, key: string, choice: PrecisionChoice, cpu: CpuInt8): void {
  let existing: CacheFile = { version: 1, choices: {} };
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    if (parsed?.version === 1 && parsed.choices && typeof parsed.choices === 'object' && !Array.isArray(parsed.choices)) existing = parsed;
  } catch {
    /* missing or corrupt (already said): start a new file */
  }
  const { cached: _cached, ...entry } = choice;
  existing.choices[key] = { ...entry, measuredAt: new Date().toISOString(), cpu: cpu.model };
  try {
    writeFileAtomic(file, JSON.stringify(existing, null, 2) + '\n');
  } catch (err) {
    log.warn(`cannot keep the precision choice in ${file} (${errorMessage(err)}); it is measured again at the next start`);
  }
}

let ortVersionText: string | undefined;
function ortVersion(): string {
  try {
    ortVersionText ??= (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    ortVersionText = 'unknown';
  }
  return ortVersionText;
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const round2 = (v: number) => Math.round(v * 100) / 100;
