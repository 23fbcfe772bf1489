/**
 * The face detector's own Mask / NoMask scores as extra evidence for the label (the AIZOO SSD has them; BlazeFace does
 * not). Log-linear: p'(c) ∝ p(c) · q(c)^weight, with q(mask) = s_mask / (s_mask + s_nomask), q(no_mask) = 1 − q(mask) and
 * q(mask_incorrect) = √(q(mask)·q(no_mask))·2 — a mask worn wrongly looks half masked to a detector that knows only
 * two classes. Weight 0 (or no detector scores) leaves the classifier's probabilities as they are. The weight is chosen on
 * the validation split (docs/MODEL.md).
 */
import { LABELS, type Probs, type Verdict } from '../core/types.js';

export function fuseDetectorScores(probs: Probs, detector: { mask: number; noMask: number } | null | undefined, weight: number): Probs {
  if (!detector || weight === 0) return probs;
  const total = detector.mask + detector.noMask;
  if (!(total > 0)) return probs;
  const qMask = Math.min(1 - 1e-6, Math.max(1e-6, detector.mask / total));
  const q = { mask: qMask, no_mask: 1 - qMask, mask_incorrect: 2 * Math.sqrt(qMask * (1 - qMask)) };
  const raw = { mask: probs.mask * q.mask ** weight, no_mask: probs.no_mask * q.no_mask ** weight, mask_incorrect: probs.mask_incorrect * q.mask_incorrect ** weight };
  const sum = raw.mask + raw.no_mask + raw.mask_incorrect;
  return sum > 0 ? { mask: raw.mask / sum, no_mask: raw.no_mask / sum, mask_incorrect: raw.mask_incorrect / sum } : probs;
}

/** A classifier verdict with the detector's scores folded in: what the daemon, `predict` and `eval` all decide on. */
export function fusedVerdict(verdict: Verdict, detector: { mask: number; noMask: number } | null | undefined, weight: number): Verdict {
  if (!detector || weight === 0) return verdict;
  const probs = fuseDetectorScores(verdict.probs, detector, weight);
  const label = LABELS.reduce((a, b) => (probs[b] > probs[a] ? b : a));
  return { label, score: probs[label], probs };
}
