/**
 * How much of the network stays float. Some float models change their label when the input moves by one grey
 * level (measured on the shipped one: ±1 level of noise changes 2 % of validation labels), and int8 steps in the
 * full-resolution layers next to the input act like such noise. So the search quantizes with ever longer float
 * prefixes – none, the stem, then whole blocks – and keeps the first whose labels agree with the float model's on
 * at least `target` of the check crops (never the test split), or the best one when none does.
 */
import { decodeModel } from './builder.js';
import { argmax, classify } from './quantize-inspect.js';
import { graphOf } from './quantize-graph.js';
import { floatLayerCandidates, quantizeOnnx, type QuantizeOptions, type QuantizeReport } from './quantize.js';

export interface FloatLayerTrial {
  floatLayers: number;
  /** Share of check crops with the same label as the float model, 0..1. */
  agreement: number;
  differing: number;
}

export interface AgreementSearchResult {
  model: Uint8Array;
  report: QuantizeReport;
  trials: FloatLayerTrial[];
  chosen: FloatLayerTrial;
  target: number;
  met: boolean;
  checkSamples: number;
}

export const DEFAULT_AGREEMENT_TARGET = 0.99;

export async function quantizeForAgreement(
  floatModel: Uint8Array,
  calibration: Float32Array[],
  check: Float32Array[],
  opts: QuantizeOptions & { target?: number; onTrial?: (t: FloatLayerTrial) => void },
): Promise<AgreementSearchResult> {
  if (!check.length) throw new Error('quantize: no check crops to measure agreement on');
  const target = opts.target ?? DEFAULT_AGREEMENT_TARGET;
  if (!(target > 0 && target <= 1)) throw new Error(`quantize: agreement target must be in (0, 1], got ${target}`);
  const candidates = opts.floatLayers !== undefined ? [opts.floatLayers] : floatLayerCandidates(graphOf(decodeModel(floatModel)));
  const reference = (await classify(floatModel, check)).map(argmax);
  const trials: FloatLayerTrial[] = [];
  let best: { trial: FloatLayerTrial; model: Uint8Array; report: QuantizeReport } | undefined;
  for (const floatLayers of candidates) {
    const q = await quantizeOnnx(floatModel, calibration, { ...opts, floatLayers });
    const labels = (await classify(q.model, check)).map(argmax);
    const differing = labels.filter((l, i) => l !== reference[i]).length;
    const trial = { floatLayers, agreement: 1 - differing / check.length, differing };
    trials.push(trial);
    opts.onTrial?.(trial);
    if (!best || trial.agreement > best.trial.agreement) best = { trial, model: q.model, report: q.report };
    if (trial.agreement >= target) break;
  }
  return { model: best!.model, report: best!.report, trials, chosen: best!.trial, target, met: best!.trial.agreement >= target, checkSamples: check.length };
}
