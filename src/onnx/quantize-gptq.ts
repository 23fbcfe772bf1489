/**
 * Error-compensating weight rounding (GPTQ, Frantar et al. 2022) for layers that are a matrix product over input
 * channels (1×1 Conv, Gemm, MatMul): quantize one input column at a time and spread its rounding error over the
 * columns not yet quantized, weighted by the inverse of the input covariance H = E[x xᵀ] from calibration.
 * BN-folded MobileNetV2 project convs lose ~5 % (relative) of their output to plain rounding; this recovers most of it.
 */

/** w: rows × cols row-major (rows = output channels), scales per row, h: cols × cols input second moments. */
export function gptqRound(w: Float32Array, rows: number, cols: number, scales: Float32Array, h: Float64Array, qmax: number): Int8Array {
  const H = Float64Array.from(h);
  const W = Float64Array.from(w);
  let meanDiag = 0;
  for (let i = 0; i < cols; i++) meanDiag += H[i * cols + i]! / cols;
  const damp = 0.01 * (meanDiag || 1);
  for (let i = 0; i < cols; i++) {
    if (H[i * cols + i] === 0) {
      H[i * cols + i] = 1; // a dead input: its weights never matter
      for (let r = 0; r < rows; r++) W[r * cols + i] = 0;
    }
    H[i * cols + i] += damp;
  }
  const U = upperCholeskyOfInverse(H, cols);
  const out = new Int8Array(rows * cols);
  if (!U) {
    for (let i = 0; i < w.length; i++) out[i] = clampRound(w[i]! / scales[Math.floor(i / cols)]!, qmax);
    return out;
  }
  const err = new Float64Array(rows);
  for (let i = 0; i < cols; i++) {
    const d = U[i * cols + i]!;
    for (let r = 0; r < rows; r++) {
      const s = scales[r]!;
      const v = W[r * cols + i]!;
      const q = clampRound(v / s, qmax);
      out[r * cols + i] = q;
      err[r] = (v - q * s) / d;
    }
    for (let j = i + 1; j < cols; j++) {
      const u = U[i * cols + j]!;
      if (u === 0) continue;
      for (let r = 0; r < rows; r++) W[r * cols + j] -= err[r]! * u;
    }
  }
  return out;
}

function clampRound(v: number, qmax: number): number {
  return Math.max(-qmax, Math.min(qmax, Math.round(v)));
}

/** U upper-triangular with H⁻¹ = Uᵀ U, or undefined when H is not positive definite. */
function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array | undefined {
  const L = cholesky(H, n);
  if (!L) return undefined;
  // H⁻¹ = L⁻ᵀ L⁻¹: invert L (lower), then form the product.
  const Li = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    Li[i * n + i] = 1 / L[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum += L[i * n + k]! * Li[k * n + j]!;
      Li[i * n + j] = -sum / L[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = i; k < n; k++) sum += Li[k * n + i]! * Li[k * n + j]!;
      inv[i * n + j] = sum;
      inv[j * n + i] = sum;
    }
  const L2 = cholesky(inv, n);
  if (!L2) return undefined;
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) U[j * n + i] = L2[i * n + j]!;
  return U;
}

function cholesky(A: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) return undefined;
        L[i * n + i] = Math.sqrt(sum);
      } else L[i * n + j] = sum / L[j * n + j]!;
    }
  }
  return L;
}
