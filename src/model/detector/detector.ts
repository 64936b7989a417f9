/**
 * Detectron2 Faster R-CNN R50-FPN driver with the stem split:
 *   stem(image)            → the [64, Hp/4, Wp/4] backend tensor + the sizes the receiver needs
 *   fromStem(stem, sizes)  → detections (res2..res5, FPN, RPN head convs, then the sparse heads)
 *   detect(image)          = fromStem(stem(image)) — the same code path, so split and unsplit runs agree exactly.
 * Graph code runs on any DetectorOps backend (GPU or CPU); the heads (anchors, proposals, NMS, ROIAlign, box head,
 * post-processing) come from ./heads.
 */
import type { Tensor, WarmupReport } from '../backend.ts';
import { classNamesOf } from '../weights/class-names.ts';
import type { DetectorWeights } from '../weights/types.ts';
import { FPN_LEVELS, prepareBackbone, releaseFpn, runFromStem, runStem, type BackboneHandles, type DenseOutputs } from './backbone.ts';
import { resolveDetectorConfig } from './config.ts';
import { defaultHeads, type DetectorBackend, type HeadsFn } from './heads-adapter.ts';
import type { DeviceImage } from './ops.ts';
import { DetectorInputError, checkBgrImage, imageSizes, resizeForDetector, type BgrImage } from './preprocess.ts';
import type { Detections, DetectorConfig, DumpFn, FpnOutputs, ImageSizes } from './types.ts';

export type { DetectorBackend, HeadsFn, HeadsResult } from './heads-adapter.ts';
export type { DumpFn } from './types.ts';

export interface DetectOptions {
  dump?: DumpFn;
  /** Per-stage wall-clock milliseconds (each stage synced), for benchmarks. */
  timings?: Map<string, number>;
}

export class Detector<T extends Tensor> {
  private constructor(
    readonly ops: DetectorBackend<T>,
    readonly weights: DetectorWeights,
    readonly cfg: DetectorConfig,
    private bb: BackboneHandles | null,
    private readonly heads: HeadsFn<T>,
  ) {}

  /**
   * Upload the dense weights; the heads (./heads, or `opts.heads`) upload theirs on first use. `backend` implements
   * DetectorOps and HeadOps (GpuDetectorBackend / CpuDetectorBackend).
   */
  static async create<T extends Tensor>(
    weights: DetectorWeights,
    backend: DetectorBackend<T>,
    cfg: Partial<DetectorConfig> = {},
    opts: { heads?: HeadsFn<T> } = {},
  ): Promise<Detector<T>> {
    const c = resolveDetectorConfig(cfg);
    const bb = prepareBackbone(backend, weights);
    return new Detector(backend, weights, c, bb, opts.heads ?? defaultHeads<T>());
  }

  get arch(): BackboneHandles['arch'] {
    return this.handles.arch;
  }

  /** Class names, index = the contiguous class id of `Detections.classes` (the checkpoint's, else the defaults). */
  get classNames(): string[] {
    return classNamesOf(this.weights);
  }

  private get handles(): BackboneHandles {
    if (!this.bb) throw new DetectorInputError('Detector used after dispose()');
    return this.bb;
  }

  /**
   * Resize (Pillow-exact) and normalise/pad a BGR image into the network input [3, Hp, Wp]: a host image is resized
   * on the CPU and normalised by the backend; a `DeviceImage` (GPU texture input) is resized on the device, bit for
   * bit the same, and never goes to the host.
   */
  preprocess(image: BgrImage | DeviceImage): { input: T; sizes: ImageSizes; resized?: BgrImage } {
    if (isDeviceImage(image)) {
      if (!this.ops.resizeNormalizeImage) throw new DetectorInputError(`the ${this.ops.kind} backend cannot take a device image`);
      const sizes = imageSizes(image.height, image.width, this.cfg);
      return { input: this.ops.resizeNormalizeImage(image, sizes.resized, sizes.padded, this.cfg.pixelMean), sizes };
    }
    checkBgrImage(image);
    const { resized, sizes } = resizeForDetector(image, this.cfg);
    const input = this.ops.normalizeImage(resized.data, resized.height, resized.width, sizes.padded, this.cfg.pixelMean);
    return { input, sizes, resized };
  }

  /** Client side of the split: the stem output [stemOut, Hp/4, Wp/4] (caller releases it) and the image sizes. */
  async stem(image: BgrImage | DeviceImage, opts: DetectOptions = {}): Promise<{ stem: T; sizes: ImageSizes }> {
    const t0 = performance.now();
    const { input, sizes } = this.preprocess(image);
    if (opts.dump) await opts.dump('input_tensor', await this.ops.toCHW(input), [1, 3, ...sizes.padded]);
    const stem = runStem(this.ops, this.handles, input);
    this.ops.release(input);
    if (opts.timings) {
      await this.ops.sync();
      opts.timings.set('stem', performance.now() - t0);
    }
    return { stem, sizes };
  }

  /** Expected stem shape for given sizes (the receiver checks what it got). */
  stemShape(sizes: ImageSizes): [number, number, number] {
    const conv = (n: number): number => Math.floor((n + 6 - 7) / 2) + 1;
    const pool = (n: number): number => Math.floor((n + 2 - 3) / 2) + 1;
    return [this.handles.arch.stemOut, pool(conv(sizes.padded[0])), pool(conv(sizes.padded[1]))];
  }

  /** Receiver side: finish detection from a stem tensor (not released). */
  async fromStem(stem: T, sizes: ImageSizes, opts: DetectOptions = {}): Promise<Detections> {
    checkSizes(sizes, this.cfg);
    const want = this.stemShape(sizes);
    if (stem.shape.length !== 3 || stem.shape.some((d, i) => d !== want[i])) {
      throw new DetectorInputError(
        `fromStem: stem is [${stem.shape.join(',')}], expected [${want.join(',')}] for a ${sizes.padded.join('x')} padded input`,
      );
    }
    const ops = this.ops;
    let t = performance.now();
    const lap = async (name: string): Promise<void> => {
      if (!opts.timings) return;
      await ops.sync();
      const now = performance.now();
      opts.timings.set(name, now - t);
      t = now;
    };
    const dense = await runFromStem(ops, this.handles, stem, { keep: !!opts.dump, onStage: opts.timings ? lap : undefined });
    try {
      if (opts.dump) {
        await opts.dump('stem', await ops.toCHW(stem), [1, ...stem.shape]);
        for (const [n, x] of dense.kept) await opts.dump(n, await ops.toCHW(x), [1, ...x.shape]);
        for (let i = 0; i < FPN_LEVELS.length; i++) {
          const l = FPN_LEVELS[i]!;
          const p = dense.features[l];
          await opts.dump(l, await ops.toCHW(p), [1, ...p.shape]);
          const o = dense.rpnObjectness[i]!,
            d = dense.rpnDeltas[i]!;
          await opts.dump(`rpn_objectness_${l}`, await ops.toCHW(o), [1, ...o.shape]);
          await opts.dump(`rpn_anchor_deltas_${l}`, await ops.toCHW(d), [1, ...d.shape]);
        }
      }
      const res = await this.heads(ops, dense, sizes, this.weights, this.cfg, { dump: opts.dump });
      await lap('heads');
      return res.detections;
    } finally {
      releaseFpn(ops, dense);
    }
  }

  /** Unsplit run: exactly fromStem(stem(image)). */
  async detect(image: BgrImage | DeviceImage, opts: DetectOptions = {}): Promise<{ detections: Detections; sizes: ImageSizes }> {
    const { stem, sizes } = await this.stem(image, opts);
    try {
      return { detections: await this.fromStem(stem, sizes, opts), sizes };
    } finally {
      this.ops.release(stem);
    }
  }

  /**
   * Compile every pipeline a `height`×`width` input needs (the original image size: the resize follows the config),
   * so the first real run is as fast as later ones. `part`: 'stem' (client), 'fromStem' (receiver) or 'all'. The
   * dense graph is planned (no GPU work) and compiled asynchronously; for the receiver side the sparse heads, whose
   * pipelines depend on the number of proposals, then run once for real on synthetic FPN features of the right
   * shapes. `sizes` (receiver side): the stream's sizes when they follow another resize config. Returns null on a
   * backend without warm-up (CPU).
   */
  async warmup(
    height: number,
    width: number,
    opts: { part?: 'stem' | 'fromStem' | 'all'; sizes?: ImageSizes } = {},
  ): Promise<WarmupReport | null> {
    const ops = this.ops;
    if (!ops.warmup) return null;
    const part = opts.part ?? 'all';
    if (opts.sizes && part !== 'fromStem') throw new DetectorInputError('warmup: explicit sizes are for the receiver side (part fromStem)');
    const sizes = opts.sizes ?? imageSizes(height, width, this.cfg);
    let dense: DenseOutputs<T> | null = null;
    const report = await ops.warmup(async () => {
      if (part !== 'fromStem') {
        ops.release((await this.stem({ height, width, data: new Uint8Array(height * width * 3) })).stem);
      }
      if (part !== 'stem') {
        const [c, h, w] = this.stemShape(sizes);
        const stem = ops.fromCHW(new Float32Array(c * h * w), c, h, w);
        dense = await runFromStem(ops, this.handles, stem, {});
        ops.release(stem);
      }
    });
    if (dense) {
      const t0 = performance.now();
      const d = dense as DenseOutputs<T>;
      let seed = 1;
      const rnd = (n: number, scale: number): Float32Array =>
        Float32Array.from({ length: n }, () => {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          return ((seed / 2 ** 32) * 2 - 1) * scale;
        });
      const fake = (t: T, scale: number): T => {
        const [c, h, w] = t.shape as [number, number, number];
        ops.release(t);
        return ops.fromCHW(rnd(c * h * w, scale), c, h, w);
      };
      const f = d.features;
      const fpn: FpnOutputs<T> = {
        features: { p2: fake(f.p2, 1), p3: fake(f.p3, 1), p4: fake(f.p4, 1), p5: fake(f.p5, 1), p6: fake(f.p6, 1) },
        rpnObjectness: d.rpnObjectness.map((t) => fake(t, 4)),
        rpnDeltas: d.rpnDeltas.map((t) => fake(t, 0.2)),
      };
      for (const t of d.kept.values()) ops.release(t);
      try {
        // the heads' few data-dependent pipelines compile here, for real (synthetic features, realistic proposal counts)
        await this.heads(ops, fpn, sizes, this.weights, this.cfg, {});
        await ops.sync();
      } finally {
        releaseFpn(ops, fpn);
      }
      report.extraMs = performance.now() - t0;
      report.totalMs += report.extraMs;
    }
    return report;
  }

  dispose(): void {
    if (this.bb) this.heads.dispose?.(this.ops, this.weights);
    this.bb?.release();
    this.bb = null;
  }
}

function isDeviceImage(x: BgrImage | DeviceImage): x is DeviceImage {
  return typeof x === 'object' && x !== null && (x as DeviceImage).kind === 'gpu-image';
}

function checkSizes(s: ImageSizes, cfg: DetectorConfig): void {
  const ok = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v > 0);
  if (!s || !ok(s.original) || !ok(s.resized) || !ok(s.padded))
    throw new DetectorInputError('sizes must hold original, resized and padded [H, W] positive integers');
  if (s.resized[0] > s.padded[0] || s.resized[1] > s.padded[1])
    throw new DetectorInputError(`resized ${s.resized.join('x')} exceeds padded ${s.padded.join('x')}`);
  const d = cfg.method2 ? 1 : cfg.sizeDivisibility;
  if (s.padded[0] % d || s.padded[1] % d) throw new DetectorInputError(`padded size ${s.padded.join('x')} is not a multiple of ${d}`);
}

/** The stem_q8 contract: min/max over the tensor, scale = (max − min)/255, q = round_half_even((x − min)/scale). */
export function dequantizeStem(q: Uint8Array, min: number, max: number): Float32Array {
  const mn = Math.fround(min);
  const scale = Math.fround(Math.fround(Math.fround(max) - mn) / 255);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = Math.fround(q[i]! * scale) + mn;
  return out;
}
