// `webvcm codec compress|decompress`: a CompressAI hyperprior-family codec (bmshj2018-hyperprior, mbt2018-mean and
// their -vbr versions, recognised from the checkpoint) on a codec-input tensor (.npy, float32 NCHW), on the GPU. The
// output of compress is the webvcm container (docs/bitstream.md, method 0 = plain codec input); inputs whose sides
// are not multiples of 64 are padded as CompressAI's compute_padding and cropped after decoding.
//   webvcm codec compress   --weights <ckpt> --input <x.npy> --output <file> [--mode compat|portable] [--strings-out <dir>] [--level S | --scale G]
//   webvcm codec decompress --weights <ckpt> --input <file> --output <x_hat.npy>
//   webvcm codec decompress --weights <ckpt> --strings-in <dir> --z-shape h,w --output <x_hat.npy> [--level S | --scale G]   (CompressAI's raw strings)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { readContainer, writeContainer, Method } from '../coder/index.ts';
import { createRuntime, type VcmRuntime } from '../api/runtime.ts';
import type { Tensor } from '../model/backend.ts';
import type { CodecOps } from '../model/codec/ops.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import { HyperpriorCodec, CodecInputError, nonFiniteProblem, type CodecMode, type RateOptions } from '../model/codec/codec.ts';
import { computePadding } from '../model/codec/features.ts';
import { loadCodecWeights } from '../model/weights/load.ts';

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CodecInputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function open(weights: string): Promise<{ runtime: VcmRuntime; codec: HyperpriorCodec<Tensor>; be: CodecOps<Tensor> }> {
  const w = await loadCodecWeights(readFile(weights, 'weights'), { label: `--weights ${weights}` });
  const runtime = await createRuntime({ backend: 'webgpu' }); // the codec commands are the WebGPU kernels' tools
  try {
    const be = runtime.codecBackend();
    return { runtime, be, codec: await HyperpriorCodec.create(w, be) };
  } catch (e) {
    runtime.dispose();
    throw e;
  }
}

/** Zero-pad an NCHW (batch 1) array. */
function padCHW(x: Float32Array, c: number, h: number, w: number, pad: readonly number[]): Float32Array {
  const [t, l, b, r] = pad as [number, number, number, number];
  const H = h + t + b,
    W = w + l + r;
  const out = new Float32Array(c * H * W);
  for (let ci = 0; ci < c; ci++)
    for (let y = 0; y < h; y++) out.set(x.subarray((ci * h + y) * w, (ci * h + y + 1) * w), (ci * H + y + t) * W + l);
  return out;
}

function cropCHW(x: Float32Array, c: number, H: number, W: number, top: number, left: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ci = 0; ci < c; ci++)
    for (let y = 0; y < h; y++) out.set(x.subarray((ci * H + y + top) * W + left, (ci * H + y + top) * W + left + w), (ci * h + y) * w);
  return out;
}

export async function compressCommand(
  o: { weights: string; input: string; output: string; mode: CodecMode; stringsOut?: string } & RateOptions,
): Promise<void> {
  const arr = readNpy(readFile(o.input, 'input'));
  if (!(arr.data instanceof Float32Array)) throw new CodecInputError(`${o.input}: expected float32 data, got ${arr.dtype}`);
  const shape = arr.shape.length === 4 ? arr.shape : arr.shape.length === 3 ? [1, ...arr.shape] : null;
  if (!shape || shape[0] !== 1) throw new CodecInputError(`${o.input}: expected a [1,C,H,W] tensor, got [${arr.shape.join(',')}]`);
  const [, C, H, W] = shape as [number, number, number, number];
  const bad = nonFiniteProblem(arr.data, H, W, [0]);
  if (bad) throw new CodecInputError(`${o.input}: ${bad}`);
  const { runtime, codec } = await open(o.weights);
  try {
    const pad = computePadding(H, W);
    const x = pad.some((v) => v) ? padCHW(arr.data, C, H, W, pad) : arr.data;
    const t0 = performance.now();
    const r = await codec.compress(x, {
      mode: o.mode,
      shape: [C, H + pad[0] + pad[2], W + pad[1] + pad[3]],
      level: o.level,
      scale: o.scale,
    });
    const ms = performance.now() - t0;
    const bytes = writeContainer({
      mode: o.mode,
      method: Method.Plain,
      fingerprint: codec.fingerprint,
      originalSize: [H, W],
      resizedSize: [H, W],
      featureShape: [C, H, W],
      padding: pad,
      mn: 0,
      mx: 1,
      zShape: r.zShape,
      model: codec.architecture,
      gain: r.gain,
      yString: r.strings[0],
      zString: r.strings[1],
    });
    writeFileSync(o.output, bytes);
    if (o.stringsOut) {
      mkdirSync(o.stringsOut, { recursive: true });
      writeFileSync(join(o.stringsOut, 'y_string.bin'), r.strings[0]);
      writeFileSync(join(o.stringsOut, 'z_string.bin'), r.strings[1]);
    }
    const bits = 8 * (r.strings[0].length + r.strings[1].length);
    const rate = codec.spec.vbr ? ` at gain ${r.gain}` : '';
    process.stdout.write(
      `${codec.architecture} ${o.mode}${rate}: y ${r.strings[0].length} B, z ${r.strings[1].length} B, z shape ${r.zShape.join('x')}, ${(bits / (H * W)).toFixed(5)} bits per input position (${(bits / (H * W * 16)).toFixed(5)} bpp if stride-4 features); container ${bytes.length} B; ${ms.toFixed(0)} ms on ${runtime.adapterInfo?.description}\n`,
    );
  } finally {
    codec.release();
    runtime.dispose();
  }
}

/** Decode CompressAI's raw strings (y_string.bin, z_string.bin in `dir`) given z's shape: no container. */
export async function decompressRawCommand(
  o: { weights: string; stringsIn: string; zShape: [number, number]; output: string; mode: CodecMode } & RateOptions,
): Promise<void> {
  const y = readFile(join(o.stringsIn, 'y_string.bin'), 'y string'),
    z = readFile(join(o.stringsIn, 'z_string.bin'), 'z string');
  const { runtime, be, codec } = await open(o.weights);
  try {
    const d = await codec.decompress([y, z], o.zShape, { mode: o.mode, level: o.level, scale: o.scale });
    let x = await be.toCHW(d.xHat);
    be.release(d.xHat);
    if (codec.C === 3) x = x.map((v) => Math.min(1, Math.max(0, v)));
    writeFileSync(o.output, writeNpy(x, [1, codec.C, o.zShape[0] * 64, o.zShape[1] * 64], '<f4'));
    process.stdout.write(
      `${o.mode}: decoded raw strings to [1,${codec.C},${o.zShape[0] * 64},${o.zShape[1] * 64}] on ${runtime.adapterInfo?.description}\n`,
    );
  } finally {
    codec.release();
    runtime.dispose();
  }
}

export async function decompressCommand(
  o: { weights: string; input?: string; output: string; stringsIn?: string; zShape?: [number, number]; mode?: CodecMode } & RateOptions,
): Promise<void> {
  if (o.stringsIn) {
    if (!o.zShape) throw new CodecInputError('--strings-in needs --z-shape h,w (CompressAI\'s compress()["shape"])');
    return decompressRawCommand({
      weights: o.weights,
      stringsIn: o.stringsIn,
      zShape: o.zShape,
      output: o.output,
      mode: o.mode ?? 'compat',
      level: o.level,
      scale: o.scale,
    });
  }
  if (o.level !== undefined || o.scale !== undefined)
    throw new CodecInputError('a container records its gain: --level/--scale go with --strings-in only');
  if (!o.input) throw new CodecInputError('decompress needs --input <file> (or --strings-in <dir> --z-shape h,w)');
  const input = o.input;
  const f = readContainer(readFile(input, 'stream'));
  const { runtime, be, codec } = await open(o.weights);
  try {
    readContainer(readFile(input, 'stream'), { expectFingerprint: codec.fingerprint });
    const [C, H, W] = f.featureShape;
    if (C !== codec.C) throw new CodecInputError(`stream codes ${C} channels, the weights have ${codec.C}`);
    const [t, l] = f.padding;
    const t0 = performance.now();
    if (f.model !== codec.architecture)
      throw new CodecInputError(`the stream was coded by a ${f.model} model, the weights are ${codec.architecture}`);
    const d = await codec.decompress([f.yString, f.zString], f.zShape, { mode: f.mode, gain: f.gain });
    const full = await be.toCHW(d.xHat);
    be.release(d.xHat);
    const ms = performance.now() - t0;
    let x = cropCHW(full, C, f.zShape[0] * 64, f.zShape[1] * 64, t, l, H, W);
    if (f.method === Method.Plain && C === 3) x = x.map((v) => Math.min(1, Math.max(0, v))); // RGB: CompressAI clamps
    if (f.method !== Method.Plain) {
      const range = Math.fround(f.mx - f.mn);
      x = x.map((v) => Math.fround(Math.fround(Math.min(1, Math.max(0, v)) * range) + f.mn));
    }
    writeFileSync(o.output, writeNpy(x, [1, C, H, W], '<f4'));
    process.stdout.write(`${f.mode}: decoded [1,${C},${H},${W}] in ${ms.toFixed(0)} ms on ${runtime.adapterInfo?.description}\n`);
  } finally {
    codec.release();
    runtime.dispose();
  }
}

function zShapeArg(v: string): [number, number] {
  const p = v.split(',').map(Number);
  if (p.length !== 2 || !p.every((n) => Number.isInteger(n) && n > 0))
    throw new InvalidArgumentError('expected h,w (two positive integers)');
  return p as [number, number];
}

/** `--level S`: a non-negative integer (the model checks the range). */
export function levelArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError("expected a level: a non-negative integer (an index into the model's Gain)");
  return n;
}

/** `--scale G` / `--target-bpp B`: a finite positive number. */
export function positiveArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a finite positive number');
  return n;
}

/** The rate options of a variable-rate model, exclusive of each other. */
export function rateOptions(note = ''): Option[] {
  return [
    new Option('--level <S>', `variable-rate models: code at level S (gain |Gain[S]|; default: the highest level)${note}`)
      .argParser(levelArg)
      .conflicts(['scale']),
    new Option(
      '--scale <G>',
      `variable-rate models: code at gain G (any positive number; webvcm inspect lists the model's level gains)${note}`,
    ).argParser(positiveArg),
  ];
}

function mode(v: string): CodecMode {
  if (v !== 'compat' && v !== 'portable') throw new InvalidArgumentError('expected compat or portable');
  return v;
}

export function register(program: Command): void {
  const codec = program
    .command('codec')
    .description(
      'CompressAI hyperprior-family codec on WebGPU: bmshj2018-hyperprior, mbt2018-mean, bmshj2018-hyperprior-vbr, mbt2018-mean-vbr (compress / decompress .npy tensors); a WebGPU kernel tool by design: no --backend, it needs an adapter',
    );
  codec
    .command('compress')
    .description('compress a float32 NCHW .npy tensor into a webvcm container')
    .requiredOption('--weights <ckpt>', 'codec checkpoint (.pth.tar or converted file)')
    .requiredOption('--input <x.npy>', 'codec input, float32 [1,C,H,W]')
    .requiredOption('--output <file>', 'output container')
    .addOption(
      new Option('--mode <mode>', 'compat (CompressAI strings) or portable (device-independent indexes)').default('compat').argParser(mode),
    )
    .option('--strings-out <dir>', 'also write y_string.bin and z_string.bin there');
  for (const opt of rateOptions()) codec.commands[0]!.addOption(opt);
  codec.commands[0]!.action(async (o) => compressCommand(o));
  codec
    .command('decompress')
    .description("decode a webvcm container (or CompressAI's raw strings) into a float32 NCHW .npy tensor")
    .requiredOption('--weights <ckpt>', 'codec checkpoint (.pth.tar or converted file)')
    .option('--input <file>', 'container written by `codec compress`')
    .requiredOption('--output <x_hat.npy>', 'output tensor')
    .option('--strings-in <dir>', "decode CompressAI's raw y_string.bin / z_string.bin from this folder instead")
    .option('--z-shape <h,w>', 'z shape of the raw strings (compress()["shape"])', zShapeArg)
    .addOption(new Option('--mode <mode>', 'index path of raw strings').default('compat').argParser(mode));
  for (const opt of rateOptions(' (raw strings only: a container records its gain)')) codec.commands[1]!.addOption(opt);
  codec.commands[1]!.action(async (o) => decompressCommand(o));
}
