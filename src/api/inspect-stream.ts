/**
 * What a `.vcm` stream holds, read from its container alone (no weights, no GPU): `webvcm inspect file.vcm` prints it.
 * Every field is checked by the container reader (docs/bitstream.md); a malformed stream is a ContainerError.
 * `parseStream` keeps what it read, so a receiver that inspects a stream to route it hands the parsed form to
 * `VcmDecoder.decode()` and the container is read once per request.
 */
import {
  CONTAINER_HEADER_BYTES,
  CONTAINER_HEADER_BYTES_V2,
  Method,
  readContainer,
  type ContainerMethod,
  type ContainerMode,
  type ContainerModel,
  type ReadContainerFields,
} from '../coder/container.ts';
import { toHex } from '../model/weights/hash.ts';

/** The leading bytes of every .vcm stream ("WVCM"). */
export function isVcmStream(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x57 && bytes[1] === 0x56 && bytes[2] === 0x43 && bytes[3] === 0x4d;
}

export interface StreamReport {
  format: 'webvcm container';
  /** The stream's own container version: 1 for bmshj2018-hyperprior, 2 for the rest of the family or a gain. */
  version: 1 | 2;
  /** The model the stream was coded for: a CompressAI hyperprior over C-channel features, named by its fingerprint;
   *  `architecture` is CompressAI's name, `gain` the variable-rate gain y was coded at (1 for a fixed-rate model). */
  model: { kind: 'compressai-hyperprior'; architecture: ContainerModel; gain: number; channels: number; fingerprint: string };
  mode: ContainerMode;
  method: ContainerMethod;
  /** What `method` means: 0 plain codec input, 1 pad-crop of the stem features, 2 image resized to multiples of 256. */
  methodName: 'plain' | 'pad-crop' | 'resize-256';
  sizes: {
    original: [number, number];
    resized: [number, number];
    /** The detector input the receiver rebuilds (4 × the feature map, as decode() does); absent for plain codec inputs. */
    padded?: [number, number];
    features: [number, number, number];
    padding: [number, number, number, number];
    z: [number, number];
  };
  /** The 8-bit quantization range of the features. */
  quant: { min: number; max: number };
  bytes: { total: number; header: number; y: number; z: number };
  /** Bits per pixel of the original image: the whole container, and the entropy-coded strings alone. */
  bpp: { container: number; strings: number };
}

const METHOD_NAMES: Record<ContainerMethod, StreamReport['methodName']> = {
  [Method.Plain]: 'plain',
  [Method.PadCrop]: 'pad-crop',
  [Method.Resize]: 'resize-256',
};

/**
 * A stream whose container was read and validated once: its report (what {@link inspectStream} returns), and, out of
 * the caller's reach, the fields `VcmDecoder.decode()` decodes without reading the container again. Only
 * {@link parseStream} makes one (an object of the same shape made elsewhere is not one).
 */
export interface ParsedStream {
  readonly report: StreamReport;
}

// the container fields of each ParsedStream (decode() trusts them: the container reader validated them)
const FIELDS = new WeakMap<ParsedStream, ReadContainerFields>();

/** The container fields a {@link ParsedStream} holds; undefined for anything parseStream did not make. */
export function parsedFields(s: unknown): ReadContainerFields | undefined {
  return typeof s === 'object' && s !== null ? FIELDS.get(s as ParsedStream) : undefined;
}

/** Read and validate a stream's container once: its report and, for `VcmDecoder.decode()`, its fields. */
export function parseStream(bytes: Uint8Array): ParsedStream {
  const f = readContainer(bytes);
  const s: ParsedStream = Object.freeze({ report: reportOf(bytes, f) });
  FIELDS.set(s, f);
  return s;
}

/** Read a stream's header and sizes (the strings are length-checked, not decoded). */
export function inspectStream(bytes: Uint8Array): StreamReport {
  return parseStream(bytes).report;
}

function reportOf(bytes: Uint8Array, f: ReadContainerFields): StreamReport {
  const [C, H, W] = f.featureShape;
  const px = f.originalSize[0] * f.originalSize[1];
  const strings = f.yString.length + f.zString.length;
  const version = bytes[4] === 2 ? 2 : 1;
  return {
    format: 'webvcm container',
    version,
    model: { kind: 'compressai-hyperprior', architecture: f.model, gain: f.gain, channels: C, fingerprint: toHex(f.fingerprint) },
    mode: f.mode,
    method: f.method,
    methodName: METHOD_NAMES[f.method],
    sizes: {
      original: f.originalSize,
      resized: f.resizedSize,
      ...(f.method === Method.Plain ? {} : { padded: [H * 4, W * 4] as [number, number] }),
      features: f.featureShape,
      padding: f.padding,
      z: f.zShape,
    },
    quant: { min: f.mn, max: f.mx },
    bytes: {
      total: bytes.length,
      header: version === 2 ? CONTAINER_HEADER_BYTES_V2 : CONTAINER_HEADER_BYTES,
      y: f.yString.length,
      z: f.zString.length,
    },
    bpp: { container: (8 * bytes.length) / px, strings: (8 * strings) / px },
  };
}
