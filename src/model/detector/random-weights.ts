/**
 * Random detector weights in the canonical (BN-folded) model-zoo layout, for benchmarks and shape tests: every shape
 * from `detectorSpecs(arch)`, He-style scales so activations stay O(1) through the 50 layers.
 */
import { detectorSpecs } from '../weights/detector.ts';
import type { DetectorArch, DetectorWeights, HostTensor } from '../weights/types.ts';
import { mulberry32 } from '../../util/random.ts';

/** R50-FPN as in faster_rcnn_R_50_FPN_3x, optionally narrowed (width = WIDTH_PER_GROUP, res2Out = RES2_OUT_CHANNELS). */
export function r50FpnArch(opts: { width?: number; res2Out?: number; fpnOut?: number; fcDim?: number } = {}): DetectorArch {
  const b = opts.width ?? 64,
    o = opts.res2Out ?? 256;
  const blocks = [3, 4, 6, 3];
  const names = ['res2', 'res3', 'res4', 'res5'] as const;
  const stages = names.map((name, i) => ({
    name,
    blocks: blocks[i]!,
    bottleneck: b * 2 ** i,
    out: o * 2 ** i,
    inFirst: i === 0 ? 64 : o * 2 ** (i - 1),
    firstStride: i === 0 ? 1 : 2,
  }));
  const fc = opts.fcDim ?? 1024;
  return {
    stemOut: 64,
    stages,
    fpnOut: opts.fpnOut ?? 256,
    numAnchors: 3,
    boxDim: 4,
    fcDims: [fc, fc],
    poolerResolution: 7,
    numClasses: 80,
  };
}

export function randomDetectorWeights(arch: DetectorArch, seed = 1): DetectorWeights {
  const uni = mulberry32(seed);
  const tensors = new Map<string, HostTensor>();
  for (const [name, shape] of detectorSpecs(arch)) {
    const n = shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    const isConv3 = name.includes('.conv3.');
    const scale = name.endsWith('.bias') ? 0.05 : (isConv3 ? 0.5 : 1.4) * Math.sqrt(3 / fanIn);
    for (let i = 0; i < n; i++) data[i] = (2 * uni() - 1) * scale;
    tensors.set(name, { dtype: 'float32', shape: [...shape], data });
  }
  return { kind: 'detectron2-rcnn-fpn', config: arch, tensors, fingerprint: new Uint8Array(16) };
}
