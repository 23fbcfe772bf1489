import { LABELS, type Label } from '../../core/types.js';
import { formatInterval, wilsonInterval } from './intervals.js';

/** Classification metrics from a confusion matrix: rows = true label, columns = predicted label (LABELS order). */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** True count of the class. */
  support: number;
}

export interface Metrics {
  count: number;
  accuracy: number;
  /** Mean F1 over the classes present (a true or a predicted sample); a class absent from both does not count. */
  macroF1: number;
  perClass: Record<Label, ClassMetrics>;
  /** confusion[true][predicted], in LABELS order. */
  confusion: number[][];
  labels: Label[];
}

export function emptyConfusion(classes = LABELS.length): number[][] {
  return Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
}

export function confusionOf(truth: number[], predicted: number[], classes = LABELS.length): number[][] {
  if (truth.length !== predicted.length) throw new Error(`confusion: ${truth.length} labels but ${predicted.length} predictions`);
  const m = emptyConfusion(classes);
  truth.forEach((t, i) => m[t][predicted[i]]++);
  return m;
}

/**
 * Precision/recall/F1 per class (0 when undefined, e.g. nothing predicted) and macro-F1, their unweighted mean over
 * the classes that occur: a class with no true and no predicted sample has no F1 to average (as scikit-learn's
 * f1_score averages over the labels present), so two correct crops of one class give 1, not 1/3.
 */
export function metricsFromConfusion(confusion: number[][]): Metrics {
  const k = confusion.length;
  const perClass = {} as Record<Label, ClassMetrics>;
  let correct = 0;
  let count = 0;
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[LABELS[c]] = { precision, recall, f1, support };
    correct += tp;
    count += support;
    if (support || predicted) {
      f1Sum += f1;
      present++;
    }
  }
  return { count, accuracy: count ? correct / count : 0, macroF1: present ? f1Sum / present : 0, perClass, confusion, labels: [...LABELS] };
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Metrics overall and restricted to faces of at least minFace px (the targets are on faces ≥ 32 px). */
export function evaluatePredictions(truth: number[], predicted: number[], faceSizes: number[], minFace: number): { all: Metrics; minFace: number; large: Metrics } {
  const keep = faceSizes.map((s) => s >= minFace);
  return {
    all: metricsFromConfusion(confusionOf(truth, predicted)),
    minFace,
    large: metricsFromConfusion(confusionOf(truth.filter((_, i) => keep[i]), predicted.filter((_, i) => keep[i]))),
  };
}

/** A text table of per-class metrics and the confusion matrix. */
export function formatMetrics(title: string, m: Metrics): string {
  const pct = (v: number) => (100 * v).toFixed(1).padStart(6);
  const absent = m.labels.filter((l, c) => m.perClass[l].support === 0 && m.confusion.every((row) => row[c] === 0));
  const over = absent.length ? ` (over ${m.labels.length - absent.length} classes; no ${absent.join(', ')} here)` : '';
  const lines = [`${title}: ${m.count} faces, accuracy ${pct(m.accuracy).trim()} %, macro-F1 ${m.macroF1.toFixed(3)}${over}`];
  lines.push(`  ${'label'.padEnd(15)} ${'prec %'.padStart(6)} ${'rec %'.padStart(6)} ${'F1 %'.padStart(6)} ${'n'.padStart(6)}  recall, 95 % (Wilson)`);
  m.labels.forEach((l, i) => {
    const c = m.perClass[l];
    const recall = formatInterval(wilsonInterval(m.confusion[i]![i]!, c.support));
    lines.push(`  ${l.padEnd(15)} ${pct(c.precision)} ${pct(c.recall)} ${pct(c.f1)} ${String(c.support).padStart(6)}  ${recall}`);
  });
  lines.push(`  confusion (rows true, columns predicted: ${m.labels.join(', ')})`);
  m.confusion.forEach((row, i) => lines.push(`  ${m.labels[i].padEnd(15)} ${row.map((v) => String(v).padStart(6)).join(' ')}`));
  return lines.join('\n');
}

/** Rounds every number in a metrics object to 4 decimals for a readable card. */
export function rounded<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(4)) : v))) as T;
}
