/**
 * Dense part of Detectron2's Faster R-CNN R50-FPN, written against DetectorOps (GPU or CPU):
 * stem (7×7/2 conv + folded FrozenBN + ReLU, 3×3/2 max-pool), bottleneck stages res2..res5 (stride on the first
 * 1×1 conv, STRIDE_IN_1X1; shortcut add + ReLU fused into conv3), FPN (1×1 laterals, nearest 2× upsample-add of the
 * pre-output sums, 3×3 outputs, P6 = P5[::2, ::2]) and the RPN head convs (shared 3×3 + ReLU, objectness and
 * anchor-delta 1×1 convs per level). Widths and block counts come from the checkpoint (`DetectorWeights.config`).
 */
import type { ConvHandle, Tensor } from '../backend.ts';
import type { DetectorArch, DetectorWeights, HostTensor } from '../weights/types.ts';
import type { DetectorOps } from './ops.ts';
import type { FpnOutputs } from './types.ts';
import { VcmError } from '../../util/errors.ts';

export class DetectorWeightsError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'DetectorWeightsError';
  }
}

const BU = 'backbone.bottom_up';
const RPN = 'proposal_generator.rpn_head';
export const FPN_LEVELS = ['p2', 'p3', 'p4', 'p5', 'p6'] as const;
export const STAGE_NAMES = ['res2', 'res3', 'res4', 'res5'] as const;

interface Block {
  conv1: ConvHandle;
  conv2: ConvHandle;
  conv3: ConvHandle;
  shortcut: ConvHandle | null;
  stride: number;
}

export interface BackboneHandles {
  arch: DetectorArch;
  stem: ConvHandle;
  stages: Block[][];
  lateral: ConvHandle[];
  output: ConvHandle[];
  rpnConv: ConvHandle;
  rpnObjectness: ConvHandle;
  rpnDeltas: ConvHandle;
  release(): void;
}

function tensor(t: Map<string, HostTensor>, name: string): HostTensor {
  const v = t.get(name);
  if (!v) throw new DetectorWeightsError(`missing tensor '${name}' (expected canonical BN-folded detector weights)`);
  if (!(v.data instanceof Float32Array)) throw new DetectorWeightsError(`tensor '${name}' is ${v.dtype}, expected float32`);
  return v;
}

/** Upload every dense-part conv of the checkpoint (canonical names `<conv>.weight` / `<conv>.bias`, BN folded). */
export function prepareBackbone<T extends Tensor>(ops: DetectorOps<T>, weights: DetectorWeights): BackboneHandles {
  const arch = weights.config;
  if (!arch || arch.stages.length !== 4) throw new DetectorWeightsError('detector weights have no 4-stage ResNet architecture');
  const all: ConvHandle[] = [];
  const conv = (name: string): ConvHandle => {
    const w = tensor(weights.tensors, `${name}.weight`);
    const b = tensor(weights.tensors, `${name}.bias`);
    if (w.shape.length !== 4) throw new DetectorWeightsError(`'${name}.weight' has shape [${w.shape}], expected 4-D`);
    const h = ops.prepareConv(w.data as Float32Array, w.shape, b.data as Float32Array, { label: name });
    all.push(h);
    return h;
  };
  try {
    const stem = conv(`${BU}.stem.conv1`);
    const stages = arch.stages.map((s) => {
      const blocks: Block[] = [];
      for (let i = 0; i < s.blocks; i++) {
        const b = `${BU}.${s.name}.${i}`;
        const hasShortcut = weights.tensors.has(`${b}.shortcut.weight`);
        if (i === 0 && s.inFirst !== s.out && !hasShortcut) throw new DetectorWeightsError(`missing tensor '${b}.shortcut.weight'`);
        blocks.push({
          conv1: conv(`${b}.conv1`),
          conv2: conv(`${b}.conv2`),
          conv3: conv(`${b}.conv3`),
          shortcut: hasShortcut ? conv(`${b}.shortcut`) : null,
          stride: i === 0 ? s.firstStride : 1,
        });
      }
      return blocks;
    });
    const lateral = [2, 3, 4, 5].map((k) => conv(`backbone.fpn_lateral${k}`));
    const output = [2, 3, 4, 5].map((k) => conv(`backbone.fpn_output${k}`));
    const rpnConv = conv(`${RPN}.conv`);
    const rpnObjectness = conv(`${RPN}.objectness_logits`);
    const rpnDeltas = conv(`${RPN}.anchor_deltas`);
    return {
      arch,
      stem,
      stages,
      lateral,
      output,
      rpnConv,
      rpnObjectness,
      rpnDeltas,
      release() {
        for (const h of all) h.release();
      },
    };
  } catch (e) {
    for (const h of all) h.release();
    throw e;
  }
}

/** Stem: conv1 7×7/2 pad 3 (+ folded BN) + ReLU, then 3×3/2 pad 1 max-pool. `input` is the padded [3, Hp, Wp] tensor. */
export function runStem<T extends Tensor>(ops: DetectorOps<T>, bb: BackboneHandles, input: T): T {
  const c = ops.conv2d(input, bb.stem, { stride: 2, pad: 3, relu: true, label: 'stem.conv1' });
  const y = ops.maxPool2d(c, 3, 2, 1);
  ops.release(c);
  return y;
}

function bottleneck<T extends Tensor>(ops: DetectorOps<T>, b: Block, x: T, label: string): T {
  const o1 = ops.conv2d(x, b.conv1, { stride: b.stride, relu: true, label: `${label}.conv1` });
  const o2 = ops.conv2d(o1, b.conv2, { pad: 1, relu: true, label: `${label}.conv2` });
  ops.release(o1);
  const sc = b.shortcut ? ops.conv2d(x, b.shortcut, { stride: b.stride, label: `${label}.shortcut` }) : x;
  const y = ops.conv2d(o2, b.conv3, { residual: sc, relu: true, label: `${label}.conv3` });
  ops.release(o2);
  if (sc !== x) ops.release(sc);
  return y;
}

/** Names of intermediates `runFromStem` can keep (golden-manifest names, without `.npy`). */
export type DenseTensorName = 'res2' | 'res3' | 'res4' | 'res5';

export interface DenseRunOptions {
  /** Keep res2..res5 (not released) and return them in `kept` (the caller releases them). */
  keep?: boolean;
  /** Called after each stage with its name (for timing). */
  onStage?: (name: string) => void | Promise<void>;
}

export interface DenseOutputs<T> extends FpnOutputs<T> {
  kept: Map<DenseTensorName, T>;
}

/** res2..res5, FPN p2..p6 and the RPN head outputs from the stem tensor [stemOut, Hp/4, Wp/4]. Does not release `stem`. */
export async function runFromStem<T extends Tensor>(
  ops: DetectorOps<T>,
  bb: BackboneHandles,
  stem: T,
  opts: DenseRunOptions = {},
): Promise<DenseOutputs<T>> {
  const kept = new Map<DenseTensorName, T>();
  const res: T[] = [];
  let x = stem;
  for (let s = 0; s < bb.stages.length; s++) {
    const blocks = bb.stages[s]!;
    for (let i = 0; i < blocks.length; i++) {
      const y = bottleneck(ops, blocks[i]!, x, `${STAGE_NAMES[s]}.${i}`);
      if (x !== stem && i > 0) ops.release(x);
      x = y;
    }
    res.push(x);
    await opts.onStage?.(STAGE_NAMES[s]!);
  }
  // FPN top-down: t5 = lateral5(res5); t_k = lateral_k(res_k) + up2(t_{k+1}); P_k = output_k(t_k).
  const p: T[] = new Array(4);
  let prev: T | null = null;
  for (let k = 3; k >= 0; k--) {
    const lat = ops.conv2d(res[k]!, bb.lateral[k]!, { label: `fpn_lateral${k + 2}` });
    if (opts.keep) kept.set(STAGE_NAMES[k]!, res[k]!);
    else ops.release(res[k]!);
    let t: T;
    if (prev) {
      t = ops.upsampleAdd(lat, prev);
      ops.release(lat, prev);
    } else t = lat;
    p[k] = ops.conv2d(t, bb.output[k]!, { pad: 1, label: `fpn_output${k + 2}` });
    prev = t;
  }
  ops.release(prev);
  const p6 = ops.maxPool2d(p[3]!, 1, 2, 0);
  await opts.onStage?.('fpn');
  const features = { p2: p[0]!, p3: p[1]!, p4: p[2]!, p5: p[3]!, p6 };
  const rpnObjectness: T[] = [];
  const rpnDeltas: T[] = [];
  for (const lvl of FPN_LEVELS) {
    const h = ops.conv2d(features[lvl], bb.rpnConv, { pad: 1, relu: true, label: `rpn.conv.${lvl}` });
    rpnObjectness.push(ops.conv2d(h, bb.rpnObjectness, { label: `rpn.objectness.${lvl}` }));
    rpnDeltas.push(ops.conv2d(h, bb.rpnDeltas, { label: `rpn.deltas.${lvl}` }));
    ops.release(h);
  }
  await opts.onStage?.('rpn_head');
  return { features, rpnObjectness, rpnDeltas, kept };
}

/** Release every tensor of a DenseOutputs / FpnOutputs. */
export function releaseFpn<T extends Tensor>(ops: DetectorOps<T>, f: FpnOutputs<T> & { kept?: Map<string, T> }): void {
  ops.release(f.features.p2, f.features.p3, f.features.p4, f.features.p5, f.features.p6, ...f.rpnObjectness, ...f.rpnDeltas);
  if (f.kept) for (const t of f.kept.values()) ops.release(t);
}
