/**
 * The paper's feature path around the codec (docs/codec.md):
 *   mn = min F, mx = max F, scale = (mx − mn)/255, q = clamp(round_half_even((F − mn)/scale), 0, 255), x = q/255
 *   (float32 throughout, a true division); method 1 pads x to multiples of 64 (CompressAI's compute_padding split)
 *   and crops after decoding; method 2 expects a stem whose sides are already multiples of 64 (image resized to
 *   multiples of 256). After decoding: F̂ = clamp(x̂, 0, 1)·(mx − mn) + mn.
 * `encodeFeatures` returns the container bytes (src/coder/container.ts, docs/bitstream.md) and the rate;
 * `decodeFeatures` parses and checks them (or checks a container read before) and returns the stem tensor.
 */
import type { Tensor } from '../backend.ts';
import {
  checkFingerprint,
  readContainer,
  writeContainer,
  ContainerError,
  type ContainerFields,
  type ReadContainerFields,
} from '../../coder/index.ts';
import { CodecInputError, type CodecMode, type CompressResult, type HyperpriorCodec, type RateOptions, type StageTimer } from './codec.ts';
import { checkTargetBpp, findGain, type RateSearch } from './rate.ts';

export type FeatureMethod = 1 | 2;

/** CompressAI's compute_padding for one axis: top/left = floor(diff/2), bottom/right = the rest. */
export function computePadding(h: number, w: number, minDiv = 64): [number, number, number, number] {
  const H = Math.ceil(h / minDiv) * minDiv,
    W = Math.ceil(w / minDiv) * minDiv;
  const top = Math.floor((H - h) / 2),
    left = Math.floor((W - w) / 2);
  return [top, left, H - h - top, W - w - left];
}

/** Method 2 resize: each side of the normal resize rounded to the nearest multiple of 256, ties up, minimum 256. */
export function method2Size(h0: number, w0: number): [number, number] {
  const r = (v: number) => Math.max(256, Math.floor(v / 256 + 0.5) * 256);
  return [r(h0), r(w0)];
}

/** scale = f32((mx − mn) / 255) with range = f32(mx − mn). */
export function quantParams(mn: number, mx: number): { mn: number; mx: number; range: number; scale: number } {
  if (!Number.isFinite(mn) || !Number.isFinite(mx))
    throw new CodecInputError(`feature map contains non-finite values (min ${mn}, max ${mx})`);
  const m = Math.fround(mn) + 0; // −0 → +0, so the stored float32 is the same on every device
  const range = Math.fround(mx - m);
  return { mn: m, mx: Math.fround(mx), range, scale: Math.fround(range / 255) };
}

export interface EncodeFeaturesOptions {
  mode?: CodecMode;
  method: FeatureMethod;
  /** Original image size [H, W] (the rate is per pixel of it). */
  originalSize: [number, number];
  /** Size of the image the detector ran on [h, w]. */
  resizedSize: [number, number];
  time?: StageTimer;
  /** Variable-rate models: a level (|Gain[level]|) or a gain; or a target rate in bits per pixel of the original image. */
  level?: number;
  scale?: number;
  targetBpp?: number;
}

export interface EncodedFeatures {
  bytes: Uint8Array;
  strings: [Uint8Array, Uint8Array];
  /** 8·(len(y) + len(z)) / (H·W) of the original image. */
  bpp: number;
  /** The same with the whole container. */
  bppContainer: number;
  /** The gain the features were coded at (1 for a fixed-rate model). */
  gain: number;
  /** With `targetBpp`: how the gain was found. */
  search?: RateSearch;
  fields: Omit<ContainerFields, 'yString' | 'zString'>;
}

export async function encodeFeatures<T extends Tensor>(
  codec: HyperpriorCodec<T>,
  stem: T,
  opts: EncodeFeaturesOptions,
): Promise<EncodedFeatures> {
  const ops = codec.ops;
  const mode = opts.mode ?? 'compat';
  if (opts.method !== 1 && opts.method !== 2)
    throw new CodecInputError(`method must be 1 (pad-crop) or 2 (resize), got ${String(opts.method)}`);
  if (stem.shape.length !== 3) throw new CodecInputError(`stem feature map must be [C,H,W], got [${stem.shape.join(',')}]`);
  const [C, H, W] = stem.shape as [number, number, number];
  if (C !== codec.C) throw new CodecInputError(`stem has ${C} channels, the codec codes ${codec.C}`);
  const pad = computePadding(H, W);
  if (opts.method === 2 && pad.some((v) => v !== 0)) {
    throw new CodecInputError(
      `method 2 needs a ${H}x${W} stem with sides that are multiples of 64 (resize the image to multiples of 256 with method2Size)`,
    );
  }
  const [mn0, mx0] = await ops.minMax(stem);
  const q = quantParams(mn0, mx0);
  // A constant map (range 0) quantizes to q = 0 everywhere; dividing 0 by 1 gives exactly that.
  const rate: RateOptions = { level: opts.level, scale: opts.scale };
  if (opts.targetBpp !== undefined && (opts.level !== undefined || opts.scale !== undefined))
    throw new CodecInputError('give a target bpp or a level/scale, not both');
  codec.gainFor(rate); // validates the rate options before any work
  if (opts.targetBpp !== undefined) checkTargetBpp(codec.architecture, codec.spec.vbr, opts.targetBpp);
  const x = ops.quantize8(stem, q.mn, q.scale > 0 ? q.scale : 1, pad);
  const px = opts.originalSize[0] * opts.originalSize[1];
  let r: CompressResult, search: RateSearch | undefined;
  if (opts.targetBpp === undefined) {
    r = await codec.compress(x, { mode, time: opts.time, ...rate });
  } else {
    // the analysis once; only quantization and rANS per candidate gain
    const a = await codec.analyse(x, { mode, time: opts.time });
    try {
      ({ result: r, search } = await findGain(codec, a, opts.targetBpp, px));
    } finally {
      a.release();
    }
  }
  ops.release(x);
  const fields = {
    mode,
    method: opts.method,
    fingerprint: codec.fingerprint,
    originalSize: opts.originalSize,
    resizedSize: opts.resizedSize,
    featureShape: [C, H, W] as [number, number, number],
    padding: pad,
    mn: q.mn,
    mx: q.mx,
    zShape: r.zShape,
    model: codec.architecture,
    gain: r.gain,
  };
  const bytes = writeContainer({ ...fields, yString: r.strings[0], zString: r.strings[1] });
  return {
    bytes,
    strings: r.strings,
    bpp: stringsBpp(r, px),
    bppContainer: (8 * bytes.length) / px,
    gain: r.gain,
    ...(search ? { search } : {}),
    fields,
  };
}

/** 8·(len(y) + len(z)) / pixels: the rate of the strings alone. */
export function stringsBpp(r: Pick<CompressResult, 'strings'>, pixels: number): number {
  return (8 * (r.strings[0].length + r.strings[1].length)) / pixels;
}

export interface DecodedFeatures<T> {
  features: T;
  fields: ReadContainerFields;
}

function isReadFields(s: unknown): s is ReadContainerFields {
  return typeof s === 'object' && s !== null && !(s instanceof Uint8Array) && (s as ReadContainerFields).yString instanceof Uint8Array;
}

/**
 * Decode a stream: its container bytes, or the fields `readContainer` already returned for them (a receiver reads
 * the header once to route a stream; the container is not parsed again). Either way the stream must be this codec's.
 */
export async function decodeFeatures<T extends Tensor>(
  codec: HyperpriorCodec<T>,
  stream: Uint8Array | ReadContainerFields,
  opts: { time?: StageTimer } = {},
): Promise<DecodedFeatures<T>> {
  let f: ReadContainerFields;
  if (isReadFields(stream)) {
    checkFingerprint(stream.fingerprint, codec.fingerprint);
    f = stream;
  } else f = readContainer(stream, { expectFingerprint: codec.fingerprint }); // bytes (anything else: its ContainerError)
  const [C, H, W] = f.featureShape;
  const [t, l, b, r] = f.padding;
  if (C !== codec.C) throw new ContainerError(`stream codes ${C} channels, the codec has ${codec.C}`);
  if (f.model !== codec.architecture)
    throw new ContainerError(`stream was coded by a ${f.model} model, these weights are ${codec.architecture}`);
  if (f.method === 0) throw new ContainerError('method 0 (plain codec input) is not a feature stream');
  if (H + t + b !== f.zShape[0] * 64 || W + l + r !== f.zShape[1] * 64) {
    throw new ContainerError(`feature ${H}x${W} padded by [${f.padding.join(',')}] does not match z shape ${f.zShape.join('x')} (×64)`);
  }
  if (f.method === 2 && (t | l | b | r) !== 0) throw new ContainerError('method 2 streams carry no padding');
  const q = quantParams(f.mn, f.mx);
  const d = await codec.decompress([f.yString, f.zString], f.zShape, { mode: f.mode, time: opts.time, gain: f.gain });
  const features = codec.ops.dequantize8(d.xHat, q.mn, q.range, [t, l, H, W]);
  codec.ops.release(d.xHat);
  return { features, fields: f };
}
