/**
 * The int8 step shared by `maskwatch train` and `maskwatch quantize` on a trained model folder: calibrate on
 * training faces, choose the float prefix on a check set that never includes test faces, then report the int8
 * model against the float one on the test split.
 */
import { createLogger } from '../../core/log.js';
import { faceInputList } from '../data/face-inputs.js';
import { classifySamples, compareRuns, type ClassifierRun } from '../eval/evaluate.js';
import { rounded } from '../eval/metrics.js';
import type { FaceSample } from '../data/photos.js';
import { createRng, deriveSeed, shuffleInPlace } from '../../core/rng.js';
import { quantizeForAgreement } from '../../onnx/quantize-search.js';
import { describeCpuInt8, readCpuInt8 } from '../../vision/precision-choice.js';

const log = createLogger('quantize');

/** Unseen augmentations of training faces: far beyond the copies the model was trained on (k ≥ 1000). */
const CHECK_AUGMENTATION = 1000;
const CHECK_TRAINING_FACES = 1500;
/** How far the int8 model's macro-F1 may be from the float model's. */
const MACRO_F1_TOLERANCE = 0.01;
/**
 * The classifier ships signed int8 weights: exact and the fastest int8 where the CPU has int8 dot products (measured:
 * docs/BENCHMARKS.md); the daemon's precision auto runs float wherever they would saturate or are not faster.
 */
export const SHIPPED_WEIGHT_TYPE = 'int8';

export interface QuantizeStepInput {
  floatBytes: Uint8Array;
  /** Training faces: calibration crops and (real ones only) the augmented part of the check set come from here. */
  training: FaceSample[];
  validation: FaceSample[];
  test: FaceSample[];
  /** The float model's run on the test faces, to compare with. */
  testFloat: ClassifierRun;
  opts: { margin: number; inputSize: number; minFace: number; seed: number; calibrationCount: number; progress: boolean };
  /** Fixed number of leading float layers; searched when absent. */
  floatLayers?: number;
  method?: 'minmax' | 'percentile';
  percentile?: number;
  /** Default SHIPPED_WEIGHT_TYPE; reduceRange: 7-bit weights. */
  weightType?: 'int8' | 'uint8';
  reduceRange?: boolean;
}

export interface QuantizeStepResult {
  model: Uint8Array;
  int8: ReturnType<typeof compareRuns>;
  /** What the model card records under `quantization`. */
  record: Record<string, unknown>;
}

export async function quantizeStep(input: QuantizeStepInput): Promise<QuantizeStepResult> {
  const { opts } = input;
  const calibration = await cropInputs(pickSamples(input.training, opts.calibrationCount, opts.seed, 'calibration'), opts, 0);
  const check = await agreementCheckSet(input.training, input.validation, opts);
  const weightType = input.weightType ?? SHIPPED_WEIGHT_TYPE;
  const cpu = readCpuInt8();
  if (weightType === 'int8' && !cpu.signedWeightsExact)
    log.warn(`this CPU (${describeCpuInt8(cpu)}) saturates int8 weights, so the agreement below is measured with saturating kernels and the float prefix comes out longer than on a CPU with VNNI or on arm64; quantize there, or with --weights uint8`);
  const q = await quantizeForAgreement(input.floatBytes, calibration, check.inputs, {
    method: input.method ?? 'percentile',
    percentile: input.percentile,
    floatLayers: input.floatLayers,
    weightType,
    reduceRange: input.reduceRange,
    onTrial: (t) => log.info(`int8 with the first ${t.floatLayers} layer(s) float: ${(100 * t.agreement).toFixed(2)} % same labels as float on ${check.inputs.length} check crops`),
  });
  const int8Run = await classifySamples(q.model, input.test, { margin: opts.margin, inputSize: opts.inputSize, progress: opts.progress, title: 'test int8' });
  const int8 = compareRuns(input.test, input.testFloat, int8Run, opts.minFace);
  const verdict = int8.labelAgreementPctLarge >= 100 * q.target && Math.abs(int8.macroF1DeltaLarge) <= MACRO_F1_TOLERANCE ? 'meets' : 'MISSES';
  log.info(
    `int8 on test faces ≥ ${opts.minFace} px: ${int8.labelAgreementPctLarge.toFixed(2)} % same labels as float (${int8.labelAgreementPct.toFixed(2)} % on all faces), ` +
      `macro-F1 delta ${int8.macroF1DeltaLarge.toFixed(4)} (all faces ${int8.macroF1Delta.toFixed(4)}): ${verdict} the ≥ ${100 * q.target} % / ±${MACRO_F1_TOLERANCE} target`,
  );
  const record = {
    created: new Date().toISOString(),
    tool: 'maskwatch quantize (QDQ, ONNX Runtime integer kernels)',
    method: q.report.method,
    ...(q.report.percentile !== undefined ? { percentile: q.report.percentile } : {}),
    weights: `${q.report.weightType} per-channel symmetric${q.report.reduceRange ? ', 7-bit range' : ''}`,
    cpu: `${cpu.model}, ${describeCpuInt8(cpu)}`,
    activations: 'uint8 per-tensor asymmetric',
    calibrationCrops: calibration.length,
    calibrationSet: `${calibration.length} training faces (seed ${opts.seed})`,
    floatLayers: q.chosen.floatLayers,
    chosenBy: `the fewest float layers with ≥ ${100 * q.target} % label agreement with float on ${check.description}`,
    targetMet: q.met,
    trials: q.trials.map((t) => ({ floatLayers: t.floatLayers, checkAgreementPct: Number((100 * t.agreement).toFixed(2)), differing: t.differing })),
    report: q.report,
    test: rounded({ ...int8, int8: undefined }),
  };
  return { model: q.model, int8, record };
}

/**
 * Crops the int8 labels are compared with the float labels on: validation faces and new augmentations of training
 * faces, all ≥ minFace (the daemon ignores smaller ones). Never test faces, so the test agreement is a fair one.
 */
async function agreementCheckSet(training: FaceSample[], validation: FaceSample[], opts: QuantizeStepInput['opts']): Promise<{ inputs: Float32Array[]; description: string }> {
  const large = (list: FaceSample[]) => list.filter((s) => s.faceSize >= opts.minFace && !s.synthetic);
  const val = large(validation);
  const train = pickSamples(large(training), CHECK_TRAINING_FACES, opts.seed, 'agreement check');
  const inputs = [...(await cropInputs(val, opts, 0)), ...(await cropInputs(train, opts, CHECK_AUGMENTATION))];
  return { inputs, description: `${val.length} validation faces and new augmentations of ${train.length} training faces, all ≥ ${opts.minFace} px` };
}

function pickSamples(pool: FaceSample[], count: number, seed: number, purpose: string): FaceSample[] {
  return shuffleInPlace([...pool], createRng(deriveSeed(seed, purpose))).slice(0, count);
}

/** Plain (augmentation 0) or augmented crops, in the order given. */
function cropInputs(samples: FaceSample[], opts: { margin: number; inputSize: number }, augmentation: number): Promise<Float32Array[]> {
  return faceInputList(samples.map((sample) => ({ sample, aug: augmentation })), opts);
}
