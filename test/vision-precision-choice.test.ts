/**
 * precision auto (src/vision/precision-choice.ts): the CPU's int8 features from /proc/cpuinfo text; the choice with a
 * fake timer (int8 slower → float, faster → int8, other answers → float, saturating CPU → float without timing); the
 * cache in stateDir (kept across starts, a corrupt one ignored with one line, an unwritable one costs only a warning);
 * and with the real models and timings here, the choice is the faster of the two medians it measured.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setLogSink } from '../src/core/log.js';
import { loadConfig } from '../src/config/load.js';
import { resolveDetectorPrecision } from '../src/vision/create-face-detector.js';
import { createMaskClassifier } from '../src/vision/mask-classifier.js';
import { CHOICE_FILE, choosePrecision, readCpuInt8, type AutoPrecision, type CpuInt8, type Precision } from '../src/vision/precision-choice.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'maskwatch-precision-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const X86_VNNI = 'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni avx_vnni amx_int8\n';
const X86_AVX2 = 'processor\t: 0\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu sse2 avx2 fma\n';
const PI5 = 'processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n';
const PI4 = 'processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n';

test('the CPU int8 features: VNNI and arm64 compute signed weights exactly, x86 without VNNI does not', () => {
  const xeon = readCpuInt8(X86_VNNI, 'x64');
  assert.deepEqual([xeon.model, xeon.features, xeon.signedWeightsExact], ['Intel(R) Xeon(R) Processor', ['avx512_vnni', 'avx_vnni', 'amx_int8'], true]);
  const epyc = readCpuInt8(X86_AVX2, 'x64');
  assert.deepEqual([epyc.features, epyc.signedWeightsExact], [[], false]);
  const pi5 = readCpuInt8(PI5, 'arm64');
  assert.deepEqual([pi5.model, pi5.features, pi5.signedWeightsExact], ['Raspberry Pi 5 Model B Rev 1.0', ['asimddp'], true]);
  const pi4 = readCpuInt8(PI4, 'arm64');
  assert.deepEqual([pi4.features, pi4.signedWeightsExact], [[], true]);
  assert.notEqual(pi4.key, pi5.key, 'the cache key tells CPU models apart');
  assert.equal(readCpuInt8(X86_VNNI, 'x64').key, xeon.key, 'and is stable');
  assert.ok(readCpuInt8().model.length > 0, 'this machine');
});

/** Fake model files: each run moves a fake clock by the given cost; answers as given. */
function fakeInput(cost: Record<Precision, number>, answers: Record<Precision, string[]>, over: Partial<AutoPrecision<string>> = {}) {
  let clock = 0;
  const opened: Precision[] = [];
  const input: AutoPrecision<string> = {
    what: 'classifier',
    files: { float: { file: 'f.onnx', sha256: 'a'.repeat(64) }, int8: { file: 'q.onnx', sha256: 'b'.repeat(64) } },
    int8Weights: 'int8',
    open: async (p) => {
      opened.push(p);
      return { run: async () => void (clock += cost[p]), answers: async () => answers[p], close: async () => undefined };
    },
    same: (a, b) => a === b,
    checkName: 'check crops',
    stateDir: null,
    threads: 1,
    cpu: readCpuInt8(X86_VNNI, 'x64'),
    now: () => clock,
    rounds: 9,
    ...over,
  };
  return { input, opened };
}

const LABELS = ['mask', 'no_mask', 'mask', 'mask_incorrect'];

test('auto with a fake timer: int8 slower → float; int8 faster → int8; the medians are the fake ones', async () => {
  const slower = fakeInput({ float: 2, int8: 3 }, { float: LABELS, int8: LABELS });
  const a = await choosePrecision(slower.input);
  assert.deepEqual([a.running, a.floatMs, a.int8Ms, a.agreement], ['float', 2, 3, { same: 4, of: 4 }]);
  assert.match(a.reason, /int8 is not faster: int8 3\.00 ms, float 2\.00 ms/);
  const faster = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: LABELS }, { files: { float: { file: 'f', sha256: 'c'.repeat(64) }, int8: { file: 'q', sha256: 'd'.repeat(64) } } });
  const b = await choosePrecision(faster.input);
  assert.deepEqual([b.running, b.floatMs, b.int8Ms], ['int8', 2, 1]);
  assert.deepEqual(faster.opened.sort(), ['float', 'int8']);
});

test('auto: int8 that changes an answer, a saturating CPU, or no int8 file → float', async () => {
  const differs = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: ['mask', 'mask', 'mask', 'mask_incorrect'] }, { files: { float: { file: 'f', sha256: 'e'.repeat(64) }, int8: { file: 'q', sha256: 'f'.repeat(64) } } });
  const a = await choosePrecision(differs.input);
  assert.deepEqual([a.running, a.agreement], ['float', { same: 3, of: 4 }]);
  assert.match(a.reason, /3 of 4 check crops, below the 99 % target/);

  const epyc = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: LABELS }, { cpu: readCpuInt8(X86_AVX2, 'x64') });
  const b = await choosePrecision(epyc.input);
  assert.equal(b.running, 'float');
  assert.match(b.reason, /saturate/);
  assert.deepEqual(epyc.opened, [], 'nothing timed');
  const unsigned = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: LABELS }, { cpu: readCpuInt8(X86_AVX2, 'x64'), int8Weights: 'uint8', files: { float: { file: 'f', sha256: '1'.repeat(64) }, int8: { file: 'q', sha256: '2'.repeat(64) } } });
  assert.equal((await choosePrecision(unsigned.input)).running, 'int8', 'uint8-stored weights are exact everywhere: measured');

  const none = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: LABELS }, { files: { float: { file: 'f', sha256: '3'.repeat(64) }, int8: null } });
  const c = await choosePrecision(none.input);
  assert.deepEqual([c.running, c.reason, none.opened], ['float', 'the model has no int8 file', []]);
});

test('the choice is kept in stateDir: the next start measures nothing; a corrupt file is ignored with one line; an unwritable one only warns', async () => {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const stateDir = path.join(tmp, 'state');
    const cpu: CpuInt8 = readCpuInt8(PI5, 'arm64');
    const first = fakeInput({ float: 5, int8: 2 }, { float: LABELS, int8: LABELS }, { stateDir, cpu });
    assert.equal((await choosePrecision(first.input)).running, 'int8');
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, CHOICE_FILE), 'utf8'));
    assert.equal(saved.version, 1);
    assert.deepEqual(Object.values(saved.choices).map((c) => (c as { running: string }).running), ['int8']);

    const again = fakeInput({ float: 1, int8: 9 }, { float: LABELS, int8: LABELS }, { stateDir, cpu });
    const cached = await choosePrecision(again.input);
    assert.deepEqual([cached.running, cached.cached, cached.int8Ms, again.opened], ['int8', true, 2, []], 'from the file, not measured again');
    const otherCpu = fakeInput({ float: 1, int8: 9 }, { float: LABELS, int8: LABELS }, { stateDir, cpu: readCpuInt8(PI4, 'arm64') });
    assert.equal((await choosePrecision(otherCpu.input)).running, 'float', 'another CPU model is measured on its own');
    const otherWay = fakeInput({ float: 1, int8: 9 }, { float: LABELS, int8: LABELS }, { stateDir, cpu, runsAs: 'int8 stem 4 channels' });
    assert.equal((await choosePrecision(otherWay.input)).running, 'float', 'the same files run another way are measured again');
    assert.deepEqual(otherWay.opened.sort(), ['float', 'int8']);

    fs.writeFileSync(path.join(stateDir, CHOICE_FILE), '{"version": 1, "choices": {"trunc');
    lines.length = 0;
    const afterCorrupt = fakeInput({ float: 5, int8: 2 }, { float: LABELS, int8: LABELS }, { stateDir, cpu });
    assert.equal((await choosePrecision(afterCorrupt.input)).running, 'int8');
    assert.deepEqual(afterCorrupt.opened.sort(), ['float', 'int8'], 'measured again');
    assert.equal(lines.filter((l) => /corrupt/.test(l)).length, 1, lines.join('\n'));
    assert.equal(JSON.parse(fs.readFileSync(path.join(stateDir, CHOICE_FILE), 'utf8')).version, 1, 'rewritten whole');

    // A state dir that cannot be written (here: below a plain file, which stops root too).
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
    lines.length = 0;
    const unwritable = fakeInput({ float: 5, int8: 2 }, { float: LABELS, int8: LABELS }, { stateDir: path.join(tmp, 'a-file', 'state'), cpu });
    assert.equal((await choosePrecision(unwritable.input)).running, 'int8');
    assert.equal(lines.filter((l) => /cannot keep the precision choice/.test(l)).length, 1, lines.join('\n'));
    assert.equal(lines.length, 1, `only the warning (the choice is a debug line; the daemon's start line says it): ${lines.join('\n')}`);
  } finally {
    setLogSink(previous);
  }
});

test('auto with the real models and timings here: the choice is the faster of the two medians it measured, and is kept', { timeout: 120_000 }, async () => {
  const stateDir = path.join(tmp, 'real');
  const classifier = await createMaskClassifier({ modelDir: 'models/maskwatch-default', precision: 'auto', stateDir });
  const report = classifier.info.precisionReport!;
  await classifier.close();
  assert.equal(report.setting, 'auto');
  assert.equal(classifier.info.precision, report.running);
  const cpu = readCpuInt8();
  if (report.floatMs !== null && report.int8Ms !== null) {
    assert.ok(report.floatMs > 0 && report.int8Ms > 0);
    const faster = report.int8Ms < report.floatMs ? 'int8' : 'float';
    assert.ok(report.running === faster || /below the 99 % target/.test(report.reason), `${report.running}: ${report.reason}`);
  } else {
    assert.equal(cpu.signedWeightsExact, false, `not measured: ${report.reason}`);
  }
  const { config } = loadConfig({ env: {} });
  const detector = await resolveDetectorPrecision(config.detector, { stateDir });
  const d = detector.report;
  assert.equal(detector.settings.precision, d.running);
  if (d.floatMs !== null && d.int8Ms !== null) assert.ok(d.running === (d.int8Ms < d.floatMs ? 'int8' : 'float') || /below the 99 % target/.test(d.reason), `${d.running}: ${d.reason}`);
  const saved = JSON.parse(fs.readFileSync(path.join(stateDir, CHOICE_FILE), 'utf8')) as { choices: Record<string, { running: string }> };
  assert.deepEqual(Object.keys(saved.choices).map((k) => k.split(' ')[0]).sort(), ['classifier', 'detector']);
  const detectorKey = Object.keys(saved.choices).find((k) => k.startsWith('detector'))!;
  assert.equal(detectorKey.endsWith('int8 stem 4 channels'), process.arch === 'x64', `${detectorKey}: the SSD's int8 stem is read as 4 channels on x64 only`);
  const again = await createMaskClassifier({ modelDir: 'models/maskwatch-default', precision: 'auto', stateDir });
  assert.equal(again.info.precision, report.running, 'the next start runs the same file');
  assert.equal((again.info.precisionReport as { cached?: boolean }).cached, true);
  await again.close();
});

test('auto: an int8 file that cannot be opened → float with one warning, not kept (a fixed file is tried next start)', async () => {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    const stateDir = path.join(tmp, 'broken');
    const { input } = fakeInput({ float: 2, int8: 1 }, { float: LABELS, int8: LABELS }, { stateDir, cpu: readCpuInt8(PI5, 'arm64') });
    const open = input.open;
    input.open = async (p) => {
      if (p === 'int8') throw new Error('model q.onnx: sha256 does not match its card');
      return open(p);
    };
    const choice = await choosePrecision(input);
    assert.equal(choice.running, 'float');
    assert.match(choice.reason, /int8 could not be checked \(model q\.onnx: sha256 does not match its card\)/);
    assert.deepEqual(lines.map((l) => /WARN/.test(l)), [true], lines.join('\n'));
    assert.equal(fs.existsSync(path.join(stateDir, CHOICE_FILE)), false);
  } finally {
    setLogSink(previous);
  }
});
