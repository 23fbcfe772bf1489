/**
 * The one training loop of the head and of fine-tuning: epochs drawn by the epoch sampler (augmented copies of a crop
 * rotate between epochs), one step per batch, validation macro-F1 after each epoch, the best weights kept and put back
 * at the end, early stop after `patience` epochs without a better one. A progress bar, or a log line per epoch.
 */
import { createLogger } from '../../core/log.js';
import { createRng, epochSampler } from '../../core/rng.js';
import { createProgressBar } from '../progress.js';

export interface FeatureSet {
  x: Float32Array[];
  y: number[];
  /**
   * Rows that are copies (augmentations) of one crop, and how many of them an epoch draws: an epoch then sees
   * each crop `draws` times in a fresh random variant, not every copy every epoch. Without it, every row.
   */
  groups?: Array<{ rows: number[]; draws: number }>;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  /** Validation loss, where the loop's validate() gives one. */
  valLoss?: number;
  valMacroF1: number;
}

export interface EpochLoopSpec<W> {
  /** Names the progress bar and the log lines. */
  name: string;
  train: FeatureSet;
  seed: number;
  epochs: number;
  batchSize: number;
  patience: number;
  progress?: boolean;
  /** One optimisation step on the training rows `idx`; resolves to the batch loss. */
  step(idx: number[]): Promise<number>;
  validate(): { macroF1: number; loss?: number };
  snapshot(): W;
  restore(weights: W): void;
  release(weights: W): void;
  /** Scores the starting weights as epoch 0 (fine-tuning must beat the frozen base). */
  scoreStart?: boolean;
  /** Ties go to the later epoch: equally good on validation, fitted further on the training crops. */
  preferLaterOnTies?: boolean;
}

export interface EpochLoopResult {
  bestEpoch: number;
  bestMacroF1: number;
  startMacroF1: number | null;
  history: EpochRecord[];
  seconds: number;
}

export async function runEpochs<W>(spec: EpochLoopSpec<W>): Promise<EpochLoopResult> {
  const log = createLogger(spec.name);
  const started = Date.now();
  const groups = spec.train.groups ?? spec.train.x.map((_, i) => ({ rows: [i], draws: 1 }));
  const epochRows = epochSampler(groups, createRng(spec.seed));
  const startMacroF1 = spec.scoreStart ? spec.validate().macroF1 : null;
  let best = { f1: startMacroF1 ?? -1, epoch: 0, weights: spec.scoreStart ? spec.snapshot() : null };
  const history: EpochRecord[] = [];
  const bar = spec.progress === false ? null : createProgressBar(spec.name, '{bar} epoch {value}/{total} | loss {loss} | val macro-F1 {vf1} | ETA {eta_formatted}');
  bar?.start(spec.epochs, 0, { loss: '-', vf1: '-' });
  try {
    for (let epoch = 1; epoch <= spec.epochs; epoch++) {
      const order = epochRows();
      let lossSum = 0;
      let batches = 0;
      for (let b = 0; b < order.length; b += spec.batchSize) {
        lossSum += await spec.step(order.slice(b, b + spec.batchSize));
        batches++;
      }
      const val = spec.validate();
      const record: EpochRecord = { epoch, loss: lossSum / Math.max(1, batches), ...(val.loss !== undefined ? { valLoss: val.loss } : {}), valMacroF1: val.macroF1 };
      history.push(record);
      const better = spec.preferLaterOnTies ? val.macroF1 >= best.f1 - 1e-9 : val.macroF1 > best.f1 + 1e-9;
      if (better) {
        if (best.weights) spec.release(best.weights);
        best = { f1: val.macroF1, epoch, weights: spec.snapshot() };
      }
      bar?.update(epoch, { loss: record.loss.toFixed(4), vf1: val.macroF1.toFixed(3) });
      if (bar === null || !process.stderr.isTTY)
        log.info(`epoch ${epoch}: loss ${record.loss.toFixed(4)}${record.valLoss !== undefined ? `, val loss ${record.valLoss.toFixed(4)}` : ''}, val macro-F1 ${val.macroF1.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      if (epoch - best.epoch >= spec.patience) break;
    }
  } finally {
    bar?.stop();
  }
  if (best.weights) {
    spec.restore(best.weights);
    spec.release(best.weights);
  }
  const seconds = (Date.now() - started) / 1000;
  log.info(`best validation macro-F1 ${best.f1.toFixed(3)} at epoch ${best.epoch} of ${history.length} (${seconds.toFixed(1)} s)`);
  return { bestEpoch: best.epoch, bestMacroF1: best.f1, startMacroF1, history, seconds };
}
