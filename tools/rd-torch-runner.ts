/**
 * An `ExperimentRunner` (src/eval/experiment.ts) whose detector and feature-codec work runs in a long-lived
 * PyTorch child process (tools/train/rd_worker.py: tools/train/rcnn.py's Detectron2 R50-FPN inference and
 * CompressAI's own compress()/decompress()), for the full rate–accuracy experiment on a machine without a GPU
 * (`tools/rd-torch.ts`, docs/eval.md). The bookkeeping (rows, cache, COCO scoring, BD-rates, outputs) and the
 * anchors (`codeWithAnchor`) are webvcm's; the worker returns the entropy-coded strings and the container fields, and
 * the bytes counted are those of webvcm's container (`writeContainer`) around exactly those strings.
 *
 * The pure parts (the protocol's parsing, rows → worker points, the container of a feature row) are exported for
 * tests; `createTorchRunner` spawns the worker.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fingerprint as sha16, writeContainer, type ContainerFields, type ContainerModel } from '../src/coder/index.ts';
import { codeWithAnchor } from '../src/eval/anchors.ts';
import type { ExperimentRunner, ImageJob, RowDetections, RowOutput, RowSpec } from '../src/eval/experiment.ts';
import { ratePoints, RdSetupError, type RatePoint } from '../src/eval/rd-runner.ts';
import type { BgrImage } from '../src/io/bgr.ts';
import { bgrFromFileBytes } from '../src/io/image-file.ts';
import { quantParams } from '../src/model/codec/features.ts';
import { hyperpriorParams, paramsDigestInput } from '../src/model/codec/params.ts';
import { loadCodecWeights, loadDetectorWeights } from '../src/model/weights/load.ts';
import { VcmError } from '../src/util/errors.ts';

/** The worker broke the protocol, failed to start or died. */
export class WorkerProtocolError extends VcmError {
  override name = 'WorkerProtocolError';
  constructor(message: string) {
    super('internal', message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Protocol (pure)

export interface WorkerHello {
  numClasses: number;
  classNames: string[] | null;
  /** per codec: its VBR levels (0: fixed-rate) */
  levels: number[];
}

/** One feature row for the worker: method, codec checkpoint and (variable-rate) level. */
export interface WorkerPoint {
  key: string;
  method: 1 | 2;
  codec: number;
  level: number | null;
}

/** A coded feature row: the detections on the decoded features, the strings and the container fields the worker knows. */
export type WorkerFeatureRow = Pick<ContainerFields, 'zShape' | 'featureShape' | 'padding' | 'mn' | 'mx'> & {
  dets: RowDetections;
  y: Uint8Array;
  z: Uint8Array;
  /** the size the detector ran on (the method-2 size for method 2) */
  resized: [number, number];
};

export interface WorkerFeatures {
  size: [number, number];
  reference: RowDetections | null;
  rows: Map<string, WorkerFeatureRow>;
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WorkerProtocolError(`${what}: expected an object`);
  return v as Json;
}

function ints(v: unknown, n: number, what: string): number[] {
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => Number.isInteger(x) && x >= 0))
    throw new WorkerProtocolError(`${what}: expected ${n} non-negative integers, got ${JSON.stringify(v)}`);
  return v as number[];
}

function nums(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw new WorkerProtocolError(`${what}: expected a list of finite numbers`);
  return v as number[];
}

function b64(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string') throw new WorkerProtocolError(`${what}: expected a base64 string`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** Parse one reply line: an object, or the worker's `{"error": ...}` as an Error. */
export function parseReply(line: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new WorkerProtocolError(`worker wrote a line that is not JSON: ${line.slice(0, 200)}`);
  }
  const o = obj(v, 'worker reply');
  if (typeof o.error === 'string') throw new Error(`PyTorch worker: ${o.error}`);
  return o;
}

export function parseHello(o: Json): WorkerHello {
  if (o.ready !== true) throw new WorkerProtocolError('worker did not say ready');
  const k = o.numClasses;
  if (!Number.isInteger(k) || (k as number) <= 0) throw new WorkerProtocolError(`worker: bad numClasses ${String(k)}`);
  const names = o.classNames;
  if (names !== null && !(Array.isArray(names) && names.every((s) => typeof s === 'string')))
    throw new WorkerProtocolError('worker: classNames must be null or a list of strings');
  if (!Array.isArray(o.codecs)) throw new WorkerProtocolError('worker: codecs must be a list');
  const levels = o.codecs.map((c, i) => ints([obj(c, `codec ${i}`).levels], 1, `codec ${i} levels`)[0]!);
  return { numClasses: k as number, classNames: names as string[] | null, levels };
}

export function parseDets(v: unknown, what: string): RowDetections {
  const o = obj(v, what);
  const boxes = Float32Array.from(nums(o.boxes, `${what}.boxes`));
  const scores = Float32Array.from(nums(o.scores, `${what}.scores`));
  const classes = Int32Array.from(nums(o.classes, `${what}.classes`));
  if (boxes.length !== 4 * scores.length || classes.length !== scores.length)
    throw new WorkerProtocolError(`${what}: ${boxes.length / 4} boxes, ${scores.length} scores, ${classes.length} classes`);
  return { boxes, scores, classes };
}

/** A `features` reply; every asked key must be there. */
export function parseFeatures(o: Json, keys: readonly string[], reference: boolean): WorkerFeatures {
  const [H, W] = ints(o.size, 2, 'size') as [number, number];
  const rowsIn = obj(o.rows, 'rows');
  const rows = new Map<string, WorkerFeatureRow>();
  for (const key of keys) {
    if (!(key in rowsIn)) throw new WorkerProtocolError(`worker returned no row ${key}`);
    const r = obj(rowsIn[key], `row ${key}`);
    const mn = r.mn,
      mx = r.mx;
    if (typeof mn !== 'number' || typeof mx !== 'number') throw new WorkerProtocolError(`row ${key}: mn/mx must be numbers`);
    rows.set(key, {
      dets: parseDets(r.dets, `row ${key}`),
      y: b64(r.y, `row ${key}.y`),
      z: b64(r.z, `row ${key}.z`),
      zShape: ints(r.zShape, 2, `row ${key}.zShape`) as [number, number],
      featureShape: ints(r.featureShape, 3, `row ${key}.featureShape`) as [number, number, number],
      padding: ints(r.padding, 4, `row ${key}.padding`) as [number, number, number, number],
      mn,
      mx,
      resized: ints(r.resized, 2, `row ${key}.resized`) as [number, number],
    });
  }
  return { size: [H, W], reference: reference ? parseDets(o.reference, 'reference') : null, rows };
}

/** The feature rows of an image as worker points (row codecIndex = rate point: a checkpoint and a level). */
export function workerPoints(rows: readonly RowSpec[], points: readonly RatePoint[], levels: readonly number[]): WorkerPoint[] {
  return rows.flatMap((r) => {
    if (r.kind !== 'feature') return [];
    const p = points[r.codecIndex];
    if (!p) throw new RangeError(`row ${r.key}: no rate point ${r.codecIndex}`);
    const level = levels[p.codec] ? Number(/^@level(\d+)$/.exec(p.suffix)?.[1] ?? NaN) : null;
    if (level !== null && !Number.isInteger(level)) throw new RangeError(`row ${r.key}: rate point ${p.suffix} is not a level`);
    return [{ key: r.key, method: r.method, codec: p.codec, level }];
  });
}

/** An image on the wire: its size and its BGR bytes in base64. */
export function wireImage(im: BgrImage): { height: number; width: number; bgr: string } {
  return {
    height: im.height,
    width: im.width,
    bgr: Buffer.from(im.data.buffer, im.data.byteOffset, im.data.byteLength).toString('base64'),
  };
}

/** What the container needs of a codec: its fingerprint, model and (variable-rate) gains. */
export interface CodecInfo {
  fingerprint: Uint8Array;
  model: ContainerModel;
  gains: number[];
}

/** The webvcm container (docs/bitstream.md) around a worker row's strings: exactly what `encodeFeatures` writes. */
export function featureContainer(
  r: WorkerFeatureRow,
  method: 1 | 2,
  codec: CodecInfo,
  gain: number | undefined,
  originalSize: [number, number],
): Uint8Array {
  const q = quantParams(r.mn, r.mx);
  return writeContainer({
    mode: 'compat',
    method,
    fingerprint: codec.fingerprint,
    originalSize,
    resizedSize: r.resized,
    featureShape: r.featureShape,
    padding: r.padding,
    mn: q.mn,
    mx: q.mx,
    zShape: r.zShape,
    model: codec.model,
    gain: gain ?? 1,
    yString: r.y,
    zString: r.z,
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The worker process

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'train', 'rd_worker.py');

class Worker {
  private readonly queue: { resolve: (o: Json) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';
  private dead: Error | null = null;
  readonly hello: Promise<Json>;

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    let first: { resolve: (o: Json) => void; reject: (e: Error) => void } | undefined;
    this.hello = new Promise((resolve, reject) => (first = { resolve, reject }));
    this.queue.push(first!);
    proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-4000);
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const w = this.queue.shift();
      if (!w) return this.fail(new WorkerProtocolError(`worker wrote an unasked line: ${line.slice(0, 200)}`));
      try {
        w.resolve(parseReply(line));
      } catch (e) {
        w.reject(e as Error);
      }
    });
    proc.on('error', (e) => this.fail(new WorkerProtocolError(`cannot start the PyTorch worker: ${e.message}`)));
    proc.on('close', (code) =>
      this.fail(
        new WorkerProtocolError(`the PyTorch worker exited (code ${code}): ${this.stderr.trim().split('\n').slice(-6).join('\n')}`),
      ),
    );
    proc.stdin.on('error', () => {});
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const w of this.queue.splice(0)) w.reject(this.dead);
  }

  request(req: object): Promise<Json> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.queue.push({ resolve, reject });
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  close(): void {
    this.proc.stdin.end();
  }
}

export interface TorchRunnerOptions {
  /** a training checkpoint (final.pt / last.pt) or a webvcm detector .safetensors */
  detector: string;
  /** CompressAI .pth.tar checkpoints: fixed-rate (one rate point) or -vbr (one per level) */
  codecs: string[];
  minSize?: number;
  maxSize?: number;
  /** the Python with torch (default: $PYTHON or python3) */
  python?: string;
  /** torch threads in the worker */
  threads?: number;
  /** CompressAI's source (default: $COMPRESSAI_SRC, else tools/train/cai.py's default) */
  compressaiSrc?: string;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 32);

async function codecInfo(path: string): Promise<CodecInfo & { C: number }> {
  const w = await loadCodecWeights(path).catch((e: Error) => {
    throw new RdSetupError(`codec ${path}: ${e.name}: ${e.message}`);
  });
  const params = hyperpriorParams(w.tensors);
  return {
    C: w.C,
    model: w.architecture as ContainerModel,
    fingerprint: await sha16(paramsDigestInput(params)),
    gains: params.vbr ? Array.from(params.vbr.gain, (g) => Math.abs(g)) : [],
  };
}

export async function createTorchRunner(o: TorchRunnerOptions): Promise<ExperimentRunner & { detectorInfo: string; points: RatePoint[] }> {
  const st = o.detector.endsWith('.safetensors')
    ? await loadDetectorWeights(o.detector).catch((e: Error) => {
        throw new RdSetupError(`detector ${o.detector}: ${e.name}: ${e.message}`);
      })
    : null;
  const minSize = o.minSize ?? st?.inputSize?.minSize;
  const maxSize = o.maxSize ?? st?.inputSize?.maxSize;
  if (minSize === undefined || maxSize === undefined)
    throw new RdSetupError(`${o.detector} stores no input size: give --min-size and --max-size`);
  const codecs = await Promise.all(o.codecs.map(codecInfo));
  for (const [i, c] of codecs.entries())
    if (st && c.C !== st.config.stemOut)
      throw new RdSetupError(`codec ${o.codecs[i]} codes ${c.C} channels but the detector's stem has ${st.config.stemOut}`);
  const points = ratePoints(codecs.map((c) => c.gains));
  const args = [WORKER, '--detector', o.detector, '--min-size', String(minSize), '--max-size', String(maxSize)];
  for (const c of o.codecs) args.push('--codec', c);
  args.push('--threads', String(o.threads ?? 1));
  const env = { ...process.env, ...(o.compressaiSrc ? { COMPRESSAI_SRC: o.compressaiSrc } : {}) };
  const worker = new Worker(spawn(o.python ?? process.env.PYTHON ?? 'python3', args, { stdio: ['pipe', 'pipe', 'pipe'], env }));
  let hello: WorkerHello;
  try {
    hello = parseHello(await worker.hello);
    if (hello.levels.length !== codecs.length || hello.levels.some((l, i) => l !== codecs[i]!.gains.length))
      throw new WorkerProtocolError(
        `the worker read other codecs (levels ${hello.levels}) than webvcm (${codecs.map((c) => c.gains.length)})`,
      );
  } catch (e) {
    worker.close();
    throw e;
  }

  return {
    classNames: st?.classNames ?? hello.classNames ?? undefined,
    numClasses: hello.numClasses,
    settings: JSON.stringify({
      runner: 'pytorch',
      detector: sha256(o.detector),
      codecs: o.codecs.map(sha256),
      gains: points.map((p) => p.gain ?? null),
      minSize,
      maxSize,
    }),
    points,
    backend: { kind: 'pytorch', detail: `${WORKER}, torch threads ${o.threads ?? 1}` },
    detectorInfo: `PyTorch worker ${WORKER}; ${hello.numClasses} classes, input ${minSize}/${maxSize}`,
    async runImage(job: ImageJob, rows: readonly RowSpec[], done: (key: string) => void) {
      const out = new Map<string, RowOutput>();
      const anchorRows = rows.filter((r): r is Extract<RowSpec, { kind: 'anchor' }> => r.kind === 'anchor');
      // decoded here as `webvcm eval` decodes it, so the worker sees the same pixels whatever the file format
      const image = bgrFromFileBytes(new Uint8Array(readFileSync(job.path)), job.fileName);
      // the anchors' encode/decode runs on sharp's threads (ffmpeg for HEVC) while the worker computes
      const coded = anchorRows.map((r) => codeWithAnchor(image, r.anchor, r.quality));
      coded.forEach((p) => p.catch(() => undefined));
      const pts = workerPoints(rows, points, hello.levels);
      const reference = rows.some((r) => r.kind === 'reference');
      if (pts.length || reference) {
        const f = parseFeatures(
          await worker.request({ op: 'features', ...wireImage(image), reference, points: pts }),
          pts.map((p) => p.key),
          reference,
        );
        for (const r of rows) {
          if (r.kind === 'reference') out.set(r.key, { dets: f.reference!, bytes: null });
          if (r.kind !== 'feature') continue;
          const p = points[r.codecIndex]!;
          const w = f.rows.get(r.key)!;
          const bytes = featureContainer(w, r.method, codecs[p.codec]!, p.gain, f.size).length;
          out.set(r.key, { dets: w.dets, bytes, stringBytes: w.y.length + w.z.length });
        }
        for (const k of out.keys()) done(k);
      }
      for (let i = 0; i < anchorRows.length; i++) {
        const r = anchorRows[i]!;
        const c = await coded[i]!;
        const reply = await worker.request({ op: 'detect', ...wireImage(c.decoded) });
        out.set(r.key, { dets: parseDets(reply.dets, `${r.key} detections`), bytes: c.bytes });
        done(r.key);
      }
      return { size: [image.height, image.width], rows: out };
    },
    close() {
      worker.close();
    },
  };
}
