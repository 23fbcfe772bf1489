/** A small random-weight conv net with the ops of an exported MobileNetV2 classifier, for the quantizer's tests. */
import { GraphBuilder } from '../../src/onnx/builder.js';

export const NET_SIZE = 32;

export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

/**
 * input NHWC [batch,32,32,3] → Transpose → Conv+Clip(0,6) → depthwise Conv+Clip → 1×1 Conv → Add (residual)
 * → Pad → Conv(stride 2)+Clip → GlobalAveragePool → Flatten → Gemm+Relu → MatMul+Add → Softmax → 'probs'.
 */
export function buildQuantizeTestNet(seed = 1): Uint8Array {
  const rand = seededRandom(seed);
  const g = new GraphBuilder('quantize-test-net', 13);
  const he = (n: number, fanIn: number): Float32Array => Float32Array.from({ length: n }, () => gaussian(rand) * Math.sqrt(2 / fanIn));
  const small = (n: number): Float32Array => Float32Array.from({ length: n }, () => gaussian(rand) * 0.1);
  g.input('input', ['batch', NET_SIZE, NET_SIZE, 3]);
  g.initializer('const_0', [0], [], 'float32');
  g.initializer('const_6', [6], [], 'float32');
  const [x] = g.node('Transpose', ['input'], ['input_nchw'], { perm: [0, 3, 1, 2] });
  const conv = (name: string, input: string, cin: number, cout: number, k: number, opts: { stride?: number; pad?: number; group?: number; relu6?: boolean }): string => {
    const group = opts.group ?? 1;
    g.initializer(`${name}/W`, he(cout * (cin / group) * k * k, (cin / group) * k * k), [cout, cin / group, k, k]);
    g.initializer(`${name}/B`, small(cout), [cout]);
    const p = opts.pad ?? 0;
    const [y] = g.node('Conv', [input, `${name}/W`, `${name}/B`], [`${name}_out`], { kernel_shape: [k, k], strides: [opts.stride ?? 1, opts.stride ?? 1], pads: [p, p, p, p], group }, name);
    return opts.relu6 ? g.node('Clip', [y!, 'const_0', 'const_6'], [`${name}_relu`])[0]! : y!;
  };
  const a = conv('conv1', x!, 3, 16, 3, { stride: 2, pad: 1, relu6: true });
  const b = conv('dw1', a, 16, 16, 3, { pad: 1, group: 16, relu6: true });
  const c = conv('project1', b, 16, 16, 1, {});
  const [sum] = g.node('Add', [a, c], ['block_add']);
  g.initializer('pads', BigInt64Array.from([0, 0, 0, 0, 0, 0, 1, 1].map(BigInt)), [8], 'int64');
  const [padded] = g.node('Pad', [sum!, 'pads'], ['block_pad'], { mode: 'constant' });
  const d = conv('conv2', padded!, 16, 24, 3, { stride: 2, relu6: true });
  const [pooled] = g.node('GlobalAveragePool', [d], ['pool']);
  const [flat] = g.node('Flatten', [pooled!], ['flat'], { axis: 1 });
  g.initializer('dense1/W', he(24 * 16, 24), [24, 16]);
  g.initializer('dense1/B', small(16), [16]);
  const [h] = g.node('Gemm', [flat!, 'dense1/W', 'dense1/B'], ['dense1']);
  const [hr] = g.node('Relu', [h!], ['dense1_relu']);
  g.initializer('dense2/W', Float32Array.from(he(16 * 3, 16), (v) => v * 3), [16, 3]);
  g.initializer('dense2/B', new Float32Array(3), [3]);
  const [m] = g.node('MatMul', [hr!, 'dense2/W'], ['dense2_mm']);
  const [logits] = g.node('Add', [m!, 'dense2/B'], ['logits']);
  g.node('Softmax', [logits!], ['probs'], { axis: 1 });
  g.output('probs', ['batch', 3]);
  return g.toBytes();
}

/** Random NHWC inputs in [-1, 1] with some spatial structure (smooth blobs), like normalised pictures. */
export function randomInputs(count: number, seed: number, size = NET_SIZE): Float32Array[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const out = new Float32Array(size * size * 3);
    const cx = rand() * size;
    const cy = rand() * size;
    const colour = [rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1];
    const bg = [rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1];
    const r = 4 + rand() * 10;
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        for (let ch = 0; ch < 3; ch++) out[(y * size + x) * 3 + ch] = Math.max(-1, Math.min(1, (inside ? colour[ch]! : bg[ch]!) + (rand() - 0.5) * 0.2));
      }
    return out;
  });
}
