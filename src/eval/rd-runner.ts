/**
 * The real ExperimentRunner (Node): one runtime (WebGPU or the wasm kernels, `backend` chosen as `webvcm detect`
 * chooses it), one detector backend, the detector twice (normal resize for the uncompressed row, method 1 and the
 * anchors; method-2 resize for method 2's stem) and every feature codec on one codec backend. Per image and method the stem is computed once and reused by every codec; the method-1 stem also
 * gives the uncompressed row. Streams are decoded exactly as the receiver does (decodeFeatures → Detector.fromStem
 * with the sizes from the container), and the decoded image of an anchor goes through the normal detector.
 */
import { readFileSync } from 'node:fs';
import { createRuntime, type AdapterChoice, type VcmRuntime } from '../api/runtime.ts';
import type { BackendChoice } from '../api/backend-choice.ts';
import type { Tensor } from '../model/backend.ts';
import type { DetectorBackend } from '../model/detector/heads-adapter.ts';
import { HyperpriorCodec, type CodecMode } from '../model/codec/codec.ts';
import { decodeFeatures, encodeFeatures } from '../model/codec/features.ts';
import { Detector } from '../model/detector/detector.ts';
import { defaultHeads } from '../model/detector/heads-adapter.ts';
import { bgrFromFileBytes } from '../io/image-file.ts';
import type { Detections, DetectorConfig, ImageSizes } from '../model/detector/types.ts';
import { toHex } from '../model/weights/hash.ts';
import { loadCodecWeights, loadDetectorWeights } from '../model/weights/load.ts';
import { codeWithAnchor } from './anchors.ts';
import type { ExperimentRunner, ImageJob, RowOutput, RowSpec, RunnerBackend } from './experiment.ts';
import { VcmError } from '../util/errors.ts';

export interface RdRunnerOptions {
  detector: string;
  /** feature-codec checkpoints: a fixed-rate one is one rate point; a variable-rate one gives one point per level,
   * or per gain of `scales` (one curve either way) */
  codecs: string[];
  /** variable-rate checkpoints: code at these gains instead of the model's levels */
  scales?: number[];
  /** build the method-2 detector too */
  method2: boolean;
  mode?: CodecMode;
  minSize?: number;
  maxSize?: number;
  adapter?: AdapterChoice;
  /** 'auto' (default: $WEBVCM_BACKEND, else auto, as createRuntime and `webvcm detect`), 'webgpu' or 'wasm' */
  backend?: BackendChoice;
  /** wasm backend: kernel threads (default: every hardware thread) */
  threads?: number;
  /** detector conv precision (the codec stays f32): 'f16' needs 'shader-f16' on WebGPU; on wasm the detector's
   * weights and inputs are rounded to binary16 */
  precision?: 'f32' | 'f16';
}

/** What ran the models, for the progress header, summary.json and bd-rate.md (pure). */
export function runtimeBackend(rt: Pick<VcmRuntime, 'backend' | 'threads' | 'adapterInfo'>): RunnerBackend {
  if (rt.backend === 'wasm') return { kind: 'wasm', detail: `WebAssembly SIMD, ${rt.threads} thread${rt.threads === 1 ? '' : 's'}` };
  const a = rt.adapterInfo;
  return { kind: 'webgpu', detail: a?.description || a?.device || a?.vendor || 'adapter' };
}

export class RdSetupError extends VcmError {
  override name = 'RdSetupError';
  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
}

/** One rate point: a codec and, for a variable-rate codec, its gain (pure). */
export interface RatePoint {
  codec: number;
  gain: number | undefined;
  suffix: string;
}

/** The rate points of the loaded codecs: per fixed-rate checkpoint one, per variable-rate checkpoint its levels or `scales`. */
export function ratePoints(gainsPerCodec: readonly number[][], scales?: readonly number[]): RatePoint[] {
  const out: RatePoint[] = [];
  gainsPerCodec.forEach((gains, codec) => {
    if (!gains.length) {
      out.push({ codec, gain: undefined, suffix: '' });
      return;
    }
    if (scales?.length) for (const g of scales) out.push({ codec, gain: Math.fround(g), suffix: `@scale${g}` });
    else gains.forEach((g, s) => out.push({ codec, gain: g, suffix: `@level${s}` }));
  });
  return out;
}

export async function createRdRunner(o: RdRunnerOptions): Promise<ExperimentRunner & { detectorInfo: string; points: RatePoint[] }> {
  const detW = await loadDetectorWeights(o.detector).catch((e: Error) => {
    throw new RdSetupError(`detector ${o.detector}: ${e.name}: ${e.message}`);
  });
  const codecW = [];
  for (const c of o.codecs) {
    const w = await loadCodecWeights(c).catch((e: Error) => {
      throw new RdSetupError(`codec ${c}: ${e.name}: ${e.message}`);
    });
    if (w.C !== detW.config.stemOut)
      throw new RdSetupError(`codec ${c} codes ${w.C} channels but the detector's stem has ${detW.config.stemOut}`);
    codecW.push(w);
  }
  const mode = o.mode ?? 'compat';
  const runtime = await createRuntime({ adapter: o.adapter, backend: o.backend, threads: o.threads });
  const precision = o.precision ?? 'f32';
  let detOps: DetectorBackend<Tensor>;
  try {
    detOps = runtime.detectorBackend(precision);
  } catch (e) {
    runtime.dispose();
    throw e;
  }
  const codecOps = runtime.codecBackend();
  const made: { dispose(): void }[] = [];
  let det1: Detector<Tensor>,
    det2: Detector<Tensor> | null = null;
  const codecs: HyperpriorCodec<Tensor>[] = [];
  try {
    const cfg: Partial<DetectorConfig> = {};
    const trained = detW.inputSize;
    if (o.minSize !== undefined || trained) cfg.minSize = o.minSize ?? trained!.minSize;
    if (o.maxSize !== undefined || trained) cfg.maxSize = o.maxSize ?? trained!.maxSize;
    det1 = await Detector.create(detW, detOps, { ...cfg, method2: false }, { heads: defaultHeads() });
    made.push(det1);
    if (o.method2) {
      det2 = await Detector.create(detW, detOps, { ...cfg, method2: true }, { heads: defaultHeads() });
      made.push(det2);
    }
    for (const w of codecW) {
      const c = await HyperpriorCodec.create(w, codecOps);
      codecs.push(c);
      made.push({ dispose: () => c.release() });
    }
  } catch (e) {
    for (const m of made.reverse()) m.dispose();
    runtime.dispose();
    throw e;
  }
  if (o.scales?.length && !codecs.some((c) => c.spec.vbr)) {
    for (const m of made.reverse()) m.dispose();
    runtime.dispose();
    throw new RdSetupError('--scales needs a variable-rate codec checkpoint (bmshj2018-hyperprior-vbr, mbt2018-mean-vbr)');
  }
  const backend = runtimeBackend(runtime);
  const points = ratePoints(
    codecs.map((c) => c.gains),
    o.scales,
  );

  /** encode → container → decode → finish detection, as the receiver does (row codecIndex = rate point) */
  const codeAndDetect = async (stem: Tensor, sizes: ImageSizes, method: 1 | 2, pi: number): Promise<RowOutput> => {
    const p = points[pi]!;
    const codec = codecs[p.codec]!;
    const enc = await encodeFeatures(codec, stem, {
      method,
      mode,
      originalSize: sizes.original,
      resizedSize: sizes.resized,
      scale: p.gain,
    });
    const { features, fields } = await decodeFeatures(codec, enc.bytes);
    try {
      const s: ImageSizes = {
        original: fields.originalSize,
        resized: fields.resizedSize,
        padded: [fields.featureShape[1] * 4, fields.featureShape[2] * 4],
      };
      const dets = await det1.fromStem(features, s);
      return { dets, bytes: enc.bytes.length, stringBytes: enc.strings[0].length + enc.strings[1].length };
    } finally {
      detOps.release(features);
    }
  };

  return {
    classNames: detW.classNames,
    settings: JSON.stringify({
      detector: toHex(detW.fingerprint),
      codecs: codecW.map((w) => toHex(w.fingerprint)),
      mode,
      ...(points.some((p) => p.gain !== undefined) ? { gains: points.map((p) => p.gain ?? null) } : {}),
      minSize: det1.cfg.minSize,
      maxSize: det1.cfg.maxSize,
      ...(precision === 'f16' ? { precision } : {}),
      // wasm's float results differ from WebGPU's in the last bits: --resume never mixes the two (a WebGPU cache
      // written before the wasm backend existed stays valid)
      ...(backend.kind === 'wasm' ? { backend: 'wasm' } : {}),
    }),
    numClasses: detW.config.numClasses,
    points,
    backend,
    detectorInfo: `backend ${backend.kind} (${backend.detail}); detector ${JSON.stringify(detW.config.stages.map((s) => s.out))} fpn ${detW.config.fpnOut}, ${detW.config.numClasses} classes`,
    async runImage(job: ImageJob, rows: readonly RowSpec[], done: (key: string) => void) {
      const image = bgrFromFileBytes(new Uint8Array(readFileSync(job.path)), job.fileName);
      const out = new Map<string, RowOutput>();
      // The anchors' encode/decode runs on sharp's worker threads: start it now, overlapping the GPU rows.
      const anchorRows = rows.filter((r): r is Extract<RowSpec, { kind: 'anchor' }> => r.kind === 'anchor');
      const coded = anchorRows.map((r) => codeWithAnchor(image, r.anchor, r.quality));
      coded.forEach((p) => p.catch(() => undefined)); // awaited below; no unhandled rejection if a GPU row fails first
      const feature = rows.filter((r): r is Extract<RowSpec, { kind: 'feature' }> => r.kind === 'feature');
      const needM1 = rows.some((r) => r.kind === 'reference') || feature.some((r) => r.method === 1);
      if (needM1) {
        const { stem, sizes } = await det1.stem(image);
        try {
          for (const r of rows) {
            if (r.kind === 'reference') {
              out.set(r.key, { dets: await det1.fromStem(stem, sizes), bytes: null });
              done(r.key);
            }
          }
          for (const r of feature.filter((x) => x.method === 1)) {
            out.set(r.key, await codeAndDetect(stem, sizes, 1, r.codecIndex));
            done(r.key);
          }
        } finally {
          detOps.release(stem);
        }
      }
      const m2 = feature.filter((x) => x.method === 2);
      if (m2.length) {
        if (!det2) throw new RdSetupError('method 2 rows need the runner built with method2: true');
        const { stem, sizes } = await det2.stem(image);
        try {
          for (const r of m2) {
            out.set(r.key, await codeAndDetect(stem, sizes, 2, r.codecIndex));
            done(r.key);
          }
        } finally {
          detOps.release(stem);
        }
      }
      for (let i = 0; i < anchorRows.length; i++) {
        const r = anchorRows[i]!;
        const c = await coded[i]!;
        const dets: Detections = (await det1.detect(c.decoded)).detections;
        out.set(r.key, { dets, bytes: c.bytes });
        done(r.key);
      }
      return { size: [image.height, image.width], rows: out };
    },
    close() {
      for (const m of made.reverse()) m.dispose();
      runtime.dispose();
    },
  };
}
