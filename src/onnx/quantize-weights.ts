/**
 * Symmetric per-channel weight quantization with an activation-aware clipping search: each output channel's scale
 * is the one (max|w|·α/127, α ≤ 1) that minimises Σ E[x_in²]·(w − ŵ)², so weights that meet dead or tiny input
 * channels (BN-folded MobileNetV2 has many) no longer set the step for the weights that matter.
 */

export interface WeightQuantOptions {
  perChannel: boolean;
  /** Float bias: its int32 form (scale = input scale × weight scale) must not overflow. */
  bias?: Float32Array;
  inputScale: number;
  /** 127, or 63 for the 7-bit "reduce range" form. */
  qmax?: number;
  /** Weight of each element's error: E[x²] of the input channel it multiplies. Without it the scale is max|w|/qmax. */
  importance?: (index: number) => number;
}

const ALPHAS = Array.from({ length: 31 }, (_, i) => 1 - i * 0.02);
const BIAS_LIMIT = 2 ** 30;

export function quantizeWeights(w: Float32Array, dims: number[], axis: number, opts: WeightQuantOptions): { values: Int8Array; scales: Float32Array; biasValues?: Int32Array } {
  const qmax = opts.qmax ?? 127;
  const channels = opts.perChannel ? dims[axis]! : 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => (opts.perChannel ? Math.floor(i / inner) % dims[axis]! : 0);
  const members: number[][] = Array.from({ length: channels }, () => []);
  for (let i = 0; i < w.length; i++) members[channelOf(i)]!.push(i);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const idx = members[c]!;
    let maxAbs = 0;
    for (const i of idx) maxAbs = Math.max(maxAbs, Math.abs(w[i]!));
    let floor = 0;
    if (opts.bias) {
      const needed = opts.perChannel ? Math.abs(opts.bias[c]!) : Math.max(...Array.from(opts.bias, Math.abs));
      floor = needed / (opts.inputScale * BIAS_LIMIT);
    }
    if (!(maxAbs > 0)) {
      scales[c] = floor > 0 ? floor : 1;
      continue;
    }
    let best = Math.max(maxAbs / qmax, floor);
    let bestErr = Infinity;
    for (const alpha of opts.importance ? ALPHAS : []) {
      const s = Math.max((maxAbs * alpha) / qmax, floor);
      let err = 0;
      for (const i of idx) {
        const v = w[i]!;
        const d = v - Math.max(-qmax, Math.min(qmax, Math.round(v / s))) * s;
        err += opts.importance!(i) * d * d;
      }
      if (err < bestErr * (1 - 1e-9)) {
        bestErr = err;
        best = s;
      }
    }
    scales[c] = best;
  }
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) values[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i]! / scales[channelOf(i)]!)));
  const biasValues = opts.bias ? Int32Array.from(opts.bias, (b, c) => Math.round(b / (opts.inputScale * scales[opts.perChannel ? c : 0]!))) : undefined;
  return { values, scales, biasValues };
}

/**
 * Per-element importance for a weight tensor from the mean square of each input channel:
 * Conv [Co, Ci/g, kh, kw] (grouped and depthwise too), Gemm B [K, N] or [N, K] (transB), MatMul B [K, N].
 */
export function importanceOfWeights(opType: string, dims: number[], group: number, transB: boolean, channelMeanSquare: Float64Array): (i: number) => number {
  if (opType === 'Conv') {
    const [co, ciPerGroup, kh = 1, kw = 1] = dims as [number, number, number?, number?];
    const k = kh * kw;
    const coPerGroup = co / group;
    return (i) => {
      const o = Math.floor(i / (ciPerGroup * k));
      const c = Math.floor(o / coPerGroup) * ciPerGroup + (Math.floor(i / k) % ciPerGroup);
      return channelMeanSquare[c] ?? 1;
    };
  }
  const cols = dims[1]!;
  return transB ? (i) => channelMeanSquare[i % cols] ?? 1 : (i) => channelMeanSquare[Math.floor(i / cols)] ?? 1;
}
