/**
 * Bitstream container for one coded feature map (layout documented byte by byte in docs/bitstream.md).
 *
 * Version 1 (bmshj2018-hyperprior, no gain): a fixed 92-byte little-endian header followed by the y string and the
 * z string. Version 2 (any other model of the family, or a gain): byte 7 holds the model, and the header grows to 96
 * bytes with the gain (f32) at offset 92. A bmshj2018-hyperprior stream is always written as version 1, so readers
 * that know only version 1 still read it.
 *
 *   0   4  magic "WVCM"              48  4  feature W (u32)
 *   4   1  version (1)               52 16  padding top, left, bottom, right (4 x u32)
 *   5   1  mode (0 compat, 1 portable) 68  4  mn (f32)
 *   6   1  method (0, 1, 2)          72  4  mx (f32)
 *   7   1  reserved (0)              76  8  z shape h, w (2 x u32)
 *   8  16  weights fingerprint       84  4  y string length (u32)
 *  24   8  original H, W (2 x u32)   88  4  z string length (u32)
 *  32   8  resized h, w (2 x u32)    92  .. y string, then z string
 *  40   8  feature C, H (2 x u32)
 */
import { VcmError } from '../util/errors.ts';

export class ContainerError extends VcmError {
  override name = 'ContainerError';
  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
}

export const CONTAINER_MAGIC = 'WVCM';
/** The newest version this module writes and reads (it reads 1 and 2). */
export const CONTAINER_VERSION = 2;
/** The smallest header (version 1); version 2's is {@link CONTAINER_HEADER_BYTES_V2}. */
export const CONTAINER_HEADER_BYTES = 92;
export const CONTAINER_HEADER_BYTES_V2 = 96;

/**
 * Byte 7 of a version 2 header: the codec model by CompressAI's name (src/model/codec/registry.ts). The order is the
 * format; append only.
 */
export const CONTAINER_MODELS = ['bmshj2018-hyperprior', 'mbt2018-mean', 'bmshj2018-hyperprior-vbr', 'mbt2018-mean-vbr'] as const;
export type ContainerModel = (typeof CONTAINER_MODELS)[number];
const VARIABLE_RATE: readonly ContainerModel[] = ['bmshj2018-hyperprior-vbr', 'mbt2018-mean-vbr'];
export const FINGERPRINT_BYTES = 16;

export type ContainerMode = 'compat' | 'portable';
const MODES: readonly ContainerMode[] = ['compat', 'portable'];

/** 0 = plain codec input, 1 = pad-crop, 2 = resize to multiples of 256 image pixels. */
export const Method = { Plain: 0, PadCrop: 1, Resize: 2 } as const;
export type ContainerMethod = (typeof Method)[keyof typeof Method];

export interface ContainerFields {
  mode: ContainerMode;
  method: ContainerMethod;
  /** 16-byte fingerprint of the codec weights (see {@link fingerprint}). */
  fingerprint: Uint8Array;
  /** Original image size [H, W]. */
  originalSize: [number, number];
  /** Image size after resizing [h, w] (equal to originalSize when the method does not resize). */
  resizedSize: [number, number];
  /** Feature map shape [C, H, W] before padding. */
  featureShape: [number, number, number];
  /** Padding [top, left, bottom, right] applied to the feature map. */
  padding: [number, number, number, number];
  /** Quantization range; stored as float32, so both must be exactly representable (use Math.fround). */
  mn: number;
  mx: number;
  /** Spatial shape [h, w] of z (CompressAI's `compress()["shape"]`). */
  zShape: [number, number];
  /** The codec model (default bmshj2018-hyperprior; read back always set). */
  model?: ContainerModel;
  /** The gain y was coded at: a float32 > 0, exactly 1 for a fixed-rate model (default 1; read back always set). */
  gain?: number;
  yString: Uint8Array;
  zString: Uint8Array;
}

/** What {@link readContainer} returns: every field, model and gain included. */
export type ReadContainerFields = ContainerFields & { model: ContainerModel; gain: number };

export interface ReadContainerOptions {
  /** When given, the stored fingerprint must equal it. */
  expectFingerprint?: Uint8Array;
}

const U32_MAX = 0xffffffff;

function checkU32(v: unknown, what: string, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) {
    throw new ContainerError(`${what} = ${String(v)} is not an unsigned 32-bit integer`);
  }
  if (!allowZero && v === 0) throw new ContainerError(`${what} is 0`);
  return v;
}

function checkTuple(v: unknown, n: number, what: string): number[] {
  if (!Array.isArray(v) || v.length !== n) throw new ContainerError(`${what} must be an array of ${n} integers`);
  return v as number[];
}

function checkRange(mn: number, mx: number): void {
  if (typeof mn !== 'number' || !Number.isFinite(mn)) throw new ContainerError(`mn = ${mn} is not a finite number`);
  if (typeof mx !== 'number' || !Number.isFinite(mx)) throw new ContainerError(`mx = ${mx} is not a finite number`);
  if (mx < mn) throw new ContainerError(`mx (${mx}) < mn (${mn})`);
}

function checkString(s: unknown, what: string): Uint8Array {
  if (!(s instanceof Uint8Array)) throw new ContainerError(`${what} must be a Uint8Array`);
  if (s.length < 8 || s.length % 4 !== 0) {
    throw new ContainerError(`${what} length ${s.length} is not a valid rANS string length (a multiple of 4, at least 8)`);
  }
  return s;
}

/**
 * Sizes that fit the stated method (docs/bitstream.md §2): the stem is the resized image padded to the detector's
 * size divisibility (≤ 64) and divided by 4 (method 1), or exactly a quarter of a resize to multiples of 256
 * (method 2); and the resize is one uniform scale of the original (within a pixel of rounding for method 1, within
 * the rounding to 256 for method 2). Anything else would silently mis-scale the boxes.
 */
function checkSizes(method: number, orig: readonly number[], res: readonly number[], feat: readonly number[]): void {
  if (method !== 1 && method !== 2) return;
  const [oh, ow] = orig as [number, number],
    [rh, rw] = res as [number, number],
    [, fh, fw] = feat as [number, number, number];
  const bad = (why: string) =>
    new ContainerError(`method ${method} stream with original ${oh}x${ow}, resized ${rh}x${rw} and feature ${fh}x${fw}: ${why}`);
  if (method === 1) {
    for (const [f, r] of [
      [fh, rh],
      [fw, rw],
    ] as const) {
      if (4 * f < r || 4 * f >= r + 64)
        throw bad(`a ${r}-pixel side gives a stem of ${Math.ceil(r / 4)} to ${Math.ceil((r + 63) / 4)}, not ${f}`);
    }
  } else {
    if (rh % 256 !== 0 || rw % 256 !== 0) throw bad('method 2 resizes to multiples of 256');
    if (4 * fh !== rh || 4 * fw !== rw) throw bad('the stem of a method 2 image is a quarter of its size');
  }
  // one scale s for both sides: |s·o − r| ≤ tol (method 2: a side rounded up to the 256 minimum may come from anything smaller)
  const tol = method === 1 ? 1 : 128;
  let lo = 0,
    hi = Infinity;
  for (const [o, r] of [
    [oh, rh],
    [ow, rw],
  ] as const) {
    const l = method === 2 && r === 256 ? 0 : (r - tol) / o;
    lo = Math.max(lo, l);
    hi = Math.min(hi, (r + tol) / o);
  }
  if (lo > hi * (1 + 1e-9)) throw bad('the resized size is not one uniform scale of the original');
}

/**
 * The coded geometry (docs/bitstream.md): z is the padded feature map after the codec's six stride-2 convolutions
 * (g_a 4, h_a 2), so z h = ceil((H + pad top + pad bottom) / 64) and likewise for w; at most 65535 channels.
 * Anything else cannot decode and would only reach the GPU to fail there.
 */
function checkGeometry(feat: readonly number[], pad: readonly number[], zs: readonly number[]): void {
  const [c, fh, fw] = feat as [number, number, number];
  if (c > 65535) throw new ContainerError(`feature C = ${c} channels is not plausible (at most 65535)`);
  const ph = fh + pad[0]! + pad[2]!,
    pw = fw + pad[1]! + pad[3]!;
  const want = [Math.ceil(ph / 64), Math.ceil(pw / 64)];
  if (zs[0] !== want[0] || zs[1] !== want[1]) {
    throw new ContainerError(
      `z shape ${zs[0]}x${zs[1]} does not fit the padded feature map ${ph}x${pw} (the codec's z of it is ${want[0]}x${want[1]})`,
    );
  }
}

/**
 * Padding that fits the stated method (docs/bitstream.md): methods 0 and 1 pad each axis to the next multiple of 64
 * (CompressAI's compute_padding), so an axis's two paddings add up to less than 64 and the padded size is a multiple
 * of 64; method 2 codes a stem that is already a multiple of 64, with no padding. Checked before the z shape, so a
 * tiny header cannot ask for a huge padded feature map.
 */
function checkPadding(method: number, feat: readonly number[], pad: readonly number[]): void {
  if (method === 2) {
    if (pad.some((v) => v !== 0))
      throw new ContainerError(`method 2 stream with padding [${pad.join(',')}]: method 2 streams carry no padding`);
    return;
  }
  for (const [axis, n, a, b] of [
    ['H', feat[1]!, pad[0]!, pad[2]!],
    ['W', feat[2]!, pad[1]!, pad[3]!],
  ] as const) {
    if (a >= 64 || b >= 64 || a + b >= 64 || (n + a + b) % 64 !== 0) {
      throw new ContainerError(
        `method ${method} stream with feature ${axis} = ${n} padded by ${a} + ${b}: the padding must take it to the next multiple of 64 (each value below 64)`,
      );
    }
  }
}

/** Model and gain: a known model, a finite float32 gain > 0, exactly 1 for a fixed-rate model. */
function checkModelGain(model: unknown, gain: unknown): { model: ContainerModel; gain: number } {
  const m = model ?? 'bmshj2018-hyperprior';
  if (!(CONTAINER_MODELS as readonly unknown[]).includes(m))
    throw new ContainerError(`unknown model ${JSON.stringify(m)} (expected one of ${CONTAINER_MODELS.join(', ')})`);
  const g = gain ?? 1;
  if (typeof g !== 'number' || !Number.isFinite(g) || !(g > 0))
    throw new ContainerError(`gain = ${String(g)} is not a finite positive number`);
  if (Math.fround(g) !== g) throw new ContainerError(`gain = ${g} is not a float32 value (use Math.fround)`);
  if (g !== 1 && !VARIABLE_RATE.includes(m as ContainerModel))
    throw new ContainerError(`gain ${g} with the fixed-rate model ${String(m)} (only ${VARIABLE_RATE.join(', ')} code at a gain)`);
  return { model: m as ContainerModel, gain: g };
}

/** Serialize the fields; validates them with the same rules as {@link readContainer}. */
export function writeContainer(f: ContainerFields): Uint8Array {
  if (f === null || typeof f !== 'object') throw new ContainerError('writeContainer expects a fields object');
  const modeIdx = MODES.indexOf(f.mode);
  if (modeIdx < 0) throw new ContainerError(`unknown mode ${JSON.stringify(f.mode)} (expected 'compat' or 'portable')`);
  if (f.method !== 0 && f.method !== 1 && f.method !== 2)
    throw new ContainerError(`unknown method ${String(f.method)} (expected 0, 1 or 2)`);
  if (!(f.fingerprint instanceof Uint8Array) || f.fingerprint.length !== FINGERPRINT_BYTES) {
    throw new ContainerError(`fingerprint must be a Uint8Array of ${FINGERPRINT_BYTES} bytes`);
  }
  const orig = checkTuple(f.originalSize, 2, 'originalSize').map((v, i) => checkU32(v, `originalSize[${i}]`, false));
  const res = checkTuple(f.resizedSize, 2, 'resizedSize').map((v, i) => checkU32(v, `resizedSize[${i}]`, false));
  const feat = checkTuple(f.featureShape, 3, 'featureShape').map((v, i) => checkU32(v, `featureShape[${i}]`, false));
  const pad = checkTuple(f.padding, 4, 'padding').map((v, i) => checkU32(v, `padding[${i}]`, true));
  const zs = checkTuple(f.zShape, 2, 'zShape').map((v, i) => checkU32(v, `zShape[${i}]`, false));
  checkSizes(f.method, orig, res, feat);
  checkPadding(f.method, feat, pad);
  checkGeometry(feat, pad, zs);
  checkRange(f.mn, f.mx);
  if (Math.fround(f.mn) !== f.mn) throw new ContainerError(`mn = ${f.mn} is not a float32 value (use Math.fround)`);
  if (Math.fround(f.mx) !== f.mx) throw new ContainerError(`mx = ${f.mx} is not a float32 value (use Math.fround)`);
  const y = checkString(f.yString, 'yString');
  const z = checkString(f.zString, 'zString');
  const { model, gain } = checkModelGain(f.model, f.gain);
  const v1 = model === 'bmshj2018-hyperprior';
  const header = v1 ? CONTAINER_HEADER_BYTES : CONTAINER_HEADER_BYTES_V2;

  const out = new Uint8Array(header + y.length + z.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = CONTAINER_MAGIC.charCodeAt(i);
  out[4] = v1 ? 1 : 2;
  out[5] = modeIdx;
  out[6] = f.method;
  out[7] = v1 ? 0 : CONTAINER_MODELS.indexOf(model);
  out.set(f.fingerprint, 8);
  let o = 24;
  for (const v of [...orig, ...res, ...feat, ...pad]) {
    dv.setUint32(o, v, true);
    o += 4;
  }
  dv.setFloat32(68, f.mn, true);
  dv.setFloat32(72, f.mx, true);
  dv.setUint32(76, zs[0]!, true);
  dv.setUint32(80, zs[1]!, true);
  dv.setUint32(84, y.length, true);
  dv.setUint32(88, z.length, true);
  if (!v1) dv.setFloat32(92, gain, true);
  out.set(y, header);
  out.set(z, header + y.length);
  return out;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
}

/**
 * The stream's fingerprint `fp` must equal `expected` (the weights'): what {@link readContainer} checks with
 * `expectFingerprint`, for a stream that was read before the weights were known.
 */
export function checkFingerprint(fp: Uint8Array, expected: Uint8Array): void {
  if (!(expected instanceof Uint8Array) || expected.length !== FINGERPRINT_BYTES) {
    throw new ContainerError(`expectFingerprint must be a Uint8Array of ${FINGERPRINT_BYTES} bytes`);
  }
  for (let i = 0; i < FINGERPRINT_BYTES; i++) {
    if (fp[i] !== expected[i]) {
      throw new ContainerError(`weights fingerprint mismatch: stream was coded with ${hex(fp)}, these weights are ${hex(expected)}`);
    }
  }
}

/** Parse and validate a container. Every malformed or mismatched input raises {@link ContainerError}. */
export function readContainer(bytes: Uint8Array, options: ReadContainerOptions = {}): ReadContainerFields {
  if (!(bytes instanceof Uint8Array)) throw new ContainerError('readContainer expects a Uint8Array');
  if (bytes.length < CONTAINER_HEADER_BYTES) {
    throw new ContainerError(`container of ${bytes.length} bytes is shorter than its ${CONTAINER_HEADER_BYTES}-byte header`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== CONTAINER_MAGIC.charCodeAt(i)) {
      throw new ContainerError(`bad magic ${JSON.stringify(String.fromCharCode(...bytes.subarray(0, 4)))} (expected "${CONTAINER_MAGIC}")`);
    }
  }
  const version = bytes[4]!;
  if (version !== 1 && version !== 2) {
    throw new ContainerError(`unsupported container version ${version} (this reader supports 1 and 2)`);
  }
  const header = version === 1 ? CONTAINER_HEADER_BYTES : CONTAINER_HEADER_BYTES_V2;
  if (bytes.length < header)
    throw new ContainerError(`version ${version} container of ${bytes.length} bytes is shorter than its ${header}-byte header`);
  const mode = MODES[bytes[5]!];
  if (mode === undefined) throw new ContainerError(`unknown mode byte ${bytes[5]} (0 = compat, 1 = portable)`);
  const method = bytes[6]!;
  if (method > 2) throw new ContainerError(`unknown method ${method} (0 = plain, 1 = pad-crop, 2 = resize)`);
  if (version === 1 && bytes[7] !== 0) throw new ContainerError(`reserved byte 7 is ${bytes[7]}, expected 0`);
  const model = version === 1 ? 'bmshj2018-hyperprior' : CONTAINER_MODELS[bytes[7]!];
  if (model === undefined)
    throw new ContainerError(`unknown model byte ${bytes[7]} (0..${CONTAINER_MODELS.length - 1}: ${CONTAINER_MODELS.join(', ')})`);
  // one encoding per stream: a bmshj2018-hyperprior stream is version 1 (so writeContainer(readContainer(b)) is b)
  if (version === 2 && model === 'bmshj2018-hyperprior')
    throw new ContainerError('a version 2 header with model bmshj2018-hyperprior: such streams are written as version 1');
  const fp = bytes.slice(8, 24);
  if (options.expectFingerprint !== undefined) checkFingerprint(fp, options.expectFingerprint);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (o: number) => dv.getUint32(o, true);
  const nz = (v: number, what: string) => {
    if (v === 0) throw new ContainerError(`${what} is 0`);
    return v;
  };
  const originalSize: [number, number] = [nz(u(24), 'original H'), nz(u(28), 'original W')];
  const resizedSize: [number, number] = [nz(u(32), 'resized h'), nz(u(36), 'resized w')];
  const featureShape: [number, number, number] = [nz(u(40), 'feature C'), nz(u(44), 'feature H'), nz(u(48), 'feature W')];
  checkSizes(method, originalSize, resizedSize, featureShape);
  const padding: [number, number, number, number] = [u(52), u(56), u(60), u(64)];
  checkPadding(method, featureShape, padding);
  const mn = dv.getFloat32(68, true);
  const mx = dv.getFloat32(72, true);
  checkRange(mn, mx);
  const zShape: [number, number] = [nz(u(76), 'z h'), nz(u(80), 'z w')];
  checkGeometry(featureShape, padding, zShape);
  const { gain } = checkModelGain(model, version === 1 ? 1 : dv.getFloat32(92, true));
  const yLen = u(84);
  const zLen = u(88);
  const avail = bytes.length - header;
  if (yLen > avail || zLen > avail - yLen) {
    throw new ContainerError(`string lengths y=${yLen} + z=${zLen} run past the end of the container (${avail} bytes after the header)`);
  }
  if (yLen + zLen !== avail) throw new ContainerError(`${avail - yLen - zLen} trailing bytes after the z string`);
  const yString = bytes.slice(header, header + yLen);
  const zString = bytes.slice(header + yLen);
  checkString(yString, 'y string');
  checkString(zString, 'z string');
  return {
    mode,
    method: method as ContainerMethod,
    fingerprint: fp,
    originalSize,
    resizedSize,
    featureShape,
    padding,
    mn,
    mx,
    zShape,
    model,
    gain,
    yString,
    zString,
  };
}

/**
 * Weights fingerprint: the first 16 bytes of SHA-256 over the given bytes (chunks are hashed as if concatenated).
 * Uses WebCrypto (`crypto.subtle`), available in Node >= 20 and browsers (secure contexts).
 */
export async function fingerprint(data: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new ContainerError('WebCrypto (crypto.subtle) is not available in this environment');
  let buf: Uint8Array;
  if (data instanceof Uint8Array) buf = data;
  else {
    let n = 0;
    for (const c of data) n += c.length;
    buf = new Uint8Array(n);
    let o = 0;
    for (const c of data) {
      buf.set(c, o);
      o += c.length;
    }
  }
  const digest = await subtle.digest('SHA-256', buf as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest).slice(0, FINGERPRINT_BYTES);
}
