// The wasm backend against ONNX Runtime Web's wasm EP and against webvcm on lavapipe: the same four graphs as
// ../shared/tools/ort-compare (enc = g_a + h_a on 1×64×256×320, dec = g_s from 1×192×16×20, hs = h_s from 1×128×4×5,
// trunk = Detectron2 R50 stem + res2..res5 on 1×3×320×480), the same weights (the golden codec; the exporter's trunk
// weights), one process, one cold run each, then interleaved rounds (wasm, ort, lavapipe, wasm, ...).
//
//   H=../shared/tools/ort-compare; W=/tmp/ortw      # once: ONNX graphs + onnxruntime-web (ort-compare's README)
//   /usr/bin/python3 $H/export_same_graph.py $W/models && (cd $W && npm init -y >/dev/null && npm i onnxruntime-web@1.30.0)
//   npx tsx bench/wasm.ts --ort-dir $W --models $W/models --ort-threads 1 [--threads N (webvcm wasm; default = ORT's)]
//       [--graphs enc,dec,hs,trunk]
//       [--impls wasm,ort,lavapipe] [--rounds 5] [--out results.json]
//
// ORT reads its thread count once per process, so 1 and 2 threads are two runs (--ort-threads 1, then 2); every run
// has webvcm wasm (at the same thread count by default) and lavapipe interleaved with ORT, so each ratio comes
// from one process. lavapipe uses its own threads (LP_NUM_THREADS, default all cores). GFLOP/s =
// 2 × conv MACs (GDN's 1×1 mixing included) per second; "% peak" divides by the CPU's FMA peak times the threads used
// (--peak, default 118 GFLOP/s per core, measured with ort-compare's fma_peak.c). A run = host input → graph → every
// output on the host.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { GpuContext } from '../src/gpu/context.ts';
import { GpuCodecBackend } from '../src/gpu/codec-backend.ts';
import { GpuDetectorBackend } from '../src/gpu/detector-backend.ts';
import type { Backend, Tensor } from '../src/model/backend.ts';
import { HyperpriorCodec } from '../src/model/codec/codec.ts';
import * as G from '../src/model/codec/graph.ts';
import type { CodecOps } from '../src/model/codec/ops.ts';
import { prepareBackbone, runStem } from '../src/model/detector/backbone.ts';
import type { DetectorOps } from '../src/model/detector/ops.ts';
import { r50FpnArch, randomDetectorWeights } from '../src/model/detector/random-weights.ts';
import { loadCodecWeights } from '../src/model/weights/load.ts';
import type { DetectorWeights } from '../src/model/weights/types.ts';
import { WasmCodecBackend, WasmDetectorBackend, WasmEngine } from '../src/wasm/backend.ts';
import { arg } from './lib/args.ts';

const MODELS = resolve(arg('models', 'models'));
const ORT_DIR = resolve(arg('ort-dir', '.'));
const GRAPHS = arg('graphs', 'hs,enc,dec,trunk').split(',');
const IMPLS = arg('impls', 'wasm,ort,lavapipe').split(',');
const ROUNDS = Number(arg('rounds', '5'));
const ORT_THREADS = Number(arg('ort-threads', '1'));
const WASM_THREADS = Number(arg('threads', String(ORT_THREADS)));
const PEAK = Number(arg('peak', '118'));
const OUT = resolve(arg('out', `artifacts/bench-wasm-ort${ORT_THREADS}.json`));
const CKPT = resolve(arg('codec', '../shared/golden/compressai/A/model.pth.tar'));

mkdirSync(dirname(OUT), { recursive: true });
const meta = JSON.parse(readFileSync(join(MODELS, 'meta.json'), 'utf8')) as Record<string, { file: string; gflops: number }>;
const ONNX: Record<string, string> = { enc: 'codec_enc', dec: 'codec_dec', hs: 'codec_hdec', trunk: 'resnet50_d2' };

// deterministic inputs (the ort-compare LCG); decoder inputs integer-valued like y_hat / z_hat
let seed = 12345;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const inputs: Record<string, { shape: number[]; data: Float32Array }> = {
  enc: { shape: [1, 64, 256, 320], data: Float32Array.from({ length: 64 * 256 * 320 }, () => Math.round(255 * rnd()) / 255) },
  dec: { shape: [1, 192, 16, 20], data: Float32Array.from({ length: 192 * 16 * 20 }, () => Math.round(8 * (rnd() - 0.5))) },
  hs: { shape: [1, 128, 4, 5], data: Float32Array.from({ length: 128 * 4 * 5 }, () => Math.round(6 * (rnd() - 0.5))) },
  trunk: { shape: [1, 3, 320, 480], data: Float32Array.from({ length: 3 * 320 * 480 }, () => 2 * rnd() - 1) },
};

/** The exporter's trunk weights (torchvision, BN folded, Detectron2 names) so both sides run the same network. */
function trunkWeights(): DetectorWeights {
  const w = randomDetectorWeights(r50FpnArch(), 7);
  const idx = join(MODELS, 'trunk_weights.json');
  if (!existsSync(idx)) throw new Error(`${idx} missing: re-run export_same_graph.py`);
  const index = JSON.parse(readFileSync(idx, 'utf8')) as Record<string, { shape: number[]; offset: number }>;
  const buf = readFileSync(join(MODELS, 'trunk_weights.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  for (const [name, { shape, offset }] of Object.entries(index)) {
    const old = w.tensors.get(name);
    if (!old || old.shape.join() !== shape.join()) throw new Error(`trunk weight ${name}: shape [${shape}] vs webvcm [${old?.shape}]`);
    w.tensors.set(name, { dtype: 'float32', shape, data: all.slice(offset, offset + shape.reduce((a, b) => a * b, 1)) });
  }
  return w;
}

type Outs = Record<string, Float32Array>;

/** webvcm's side on any backend: the codec graphs of graph.ts and the backbone's stem + bottlenecks. */
async function webvcm(codecOps: CodecOps<Tensor>, detOps: DetectorOps<Tensor>): Promise<(g: string) => Promise<Outs>> {
  const codec = GRAPHS.some((g) => g !== 'trunk') ? await HyperpriorCodec.create(await loadCodecWeights(new Uint8Array(readFileSync(CKPT))), codecOps) : null;
  const bb = GRAPHS.includes('trunk') ? prepareBackbone(detOps, trunkWeights()) : null;
  return async (g): Promise<Outs> => {
    const { shape, data } = inputs[g]!;
    const [, C, H, W] = shape as [number, number, number, number];
    if (g === 'trunk') {
      const ops: Backend<Tensor> = detOps;
      let x = ops.fromCHW(data, C, H, W);
      const s = runStem(detOps, bb!, x);
      ops.release(x);
      x = s;
      for (const blocks of bb!.stages) for (const b of blocks) { // = backbone.ts bottleneck()
        const o1 = ops.conv2d(x, b.conv1, { stride: b.stride, relu: true });
        const o2 = ops.conv2d(o1, b.conv2, { pad: 1, relu: true });
        ops.release(o1);
        const sc = b.shortcut ? ops.conv2d(x, b.shortcut, { stride: b.stride }) : x;
        const y = ops.conv2d(o2, b.conv3, { residual: sc, relu: true });
        ops.release(o2);
        if (sc !== x) ops.release(sc);
        ops.release(x);
        x = y;
      }
      const c5 = await ops.toCHW(x);
      ops.release(x);
      return { c5 };
    }
    const L = codec!.layers;
    const x = codecOps.fromCHW(data, C, H, W);
    if (g === 'enc') {
      const y = G.gA(codecOps, L, x);
      const z = G.hA(codecOps, L, y);
      const out = { y: await codecOps.toCHW(y), z: await codecOps.toCHW(z) };
      codecOps.release(x, y, z);
      return out;
    }
    const t = g === 'dec' ? G.gS(codecOps, L, x) : G.hS(codecOps, L, x);
    const out = await codecOps.toCHW(t);
    codecOps.release(x, t);
    return g === 'dec' ? { x_hat: out } : { scales_hat: out };
  };
}

async function ortRunner(): Promise<(g: string) => Promise<Outs>> {
  const req = createRequire(join(ORT_DIR, 'package.json'));
  const ort = await import(pathToFileURL(req.resolve('onnxruntime-web')).href);
  ort.env.wasm.numThreads = ORT_THREADS;
  ort.env.logLevel = 'error';
  const sessions = new Map<string, { inputNames: string[]; outputNames: string[]; run(f: unknown): Promise<Record<string, { getData(): Promise<unknown> }>> }>();
  return async (g) => {
    if (!sessions.has(g)) {
      const bytes = new Uint8Array(readFileSync(join(MODELS, meta[ONNX[g]!]!.file)));
      sessions.set(g, await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }));
    }
    const s = sessions.get(g)!;
    const { shape, data } = inputs[g]!;
    const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', data, shape) });
    const out: Outs = {};
    for (const n of s.outputNames) out[n] = (await r[n]!.getData()) as Float32Array;
    return out;
  };
}

const impls: Record<string, (g: string) => Promise<Outs>> = {};
let adapter = '';
if (IMPLS.includes('wasm')) {
  const engine = await WasmEngine.create({ threads: WASM_THREADS });
  if (engine.threads !== WASM_THREADS) throw new Error(`asked for ${WASM_THREADS} wasm threads, got ${engine.threads}`);
  impls.wasm = await webvcm(new WasmCodecBackend(engine) as unknown as CodecOps<Tensor>, new WasmDetectorBackend(engine) as unknown as DetectorOps<Tensor>);
}
if (IMPLS.includes('ort')) impls.ort = await ortRunner();
if (IMPLS.includes('lavapipe')) {
  const ctx = await GpuContext.create({ adapter: 'lavapipe' });
  adapter = ctx.info.description;
  impls.lavapipe = await webvcm(new GpuCodecBackend(ctx) as unknown as CodecOps<Tensor>, new GpuDetectorBackend(ctx) as unknown as DetectorOps<Tensor>);
}

const maxAbs = (a: Float32Array, b: Float32Array) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };
const threadsOf = (im: string) => (im === 'ort' ? ORT_THREADS : im === 'wasm' ? WASM_THREADS : 1);
const result = {
  date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, adapter, ortThreads: ORT_THREADS, wasmThreads: WASM_THREADS,
  peakPerThread: PEAK, rounds: ROUNDS, loadStart: loadavg(), graphs: {} as Record<string, unknown>,
};
console.log(`bench/wasm: ${cpus()[0]?.model} x${cpus().length}; ORT wasm threads ${ORT_THREADS}; webvcm wasm threads ${WASM_THREADS}; lavapipe: ${adapter || '-'}; load ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
for (const g of GRAPHS) {
  const gflop = meta[ONNX[g]!]!.gflops;
  const ms: Record<string, number[]> = {};
  const cold: Record<string, Outs> = {};
  for (const im of IMPLS) { cold[im] = await impls[im]!(g); ms[im] = []; }
  const diffs = Object.fromEntries(IMPLS.filter((im) => im !== 'ort' && cold.ort).map((im) => [im, Object.fromEntries(Object.entries(cold.ort!).map(([k, v]) => [k, maxAbs(v, cold[im]![k]!)]))]));
  console.log(`== ${g} (${gflop.toFixed(2)} GFLOP)  max |diff| vs ORT ${JSON.stringify(diffs)}`);
  for (let r = 0; r < ROUNDS; r++) {
    const line: string[] = [];
    for (const im of IMPLS) {
      const t0 = performance.now();
      await impls[im]!(g);
      const t = performance.now() - t0;
      ms[im]!.push(t);
      line.push(`${im} ${t.toFixed(0)}`);
    }
    console.log(`  round ${r + 1}: ${line.join(', ')}  (load ${loadavg()[0]!.toFixed(2)})`);
  }
  const stats: Record<string, { median: number; min: number; gflops: number; peakFraction: number; threads: number }> = {};
  for (const im of IMPLS) {
    const s = [...ms[im]!].sort((a, b) => a - b);
    const median = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    const gflops = gflop / (median / 1000);
    stats[im] = { median, min: s[0]!, gflops, peakFraction: gflops / (PEAK * threadsOf(im)), threads: threadsOf(im) };
  }
  result.graphs[g] = { gflop, maxAbsDiffVsOrt: diffs, ms, stats };
  writeFileSync(OUT, JSON.stringify(result, null, 1));
  console.log(`  => ${IMPLS.map((im) => `${im} ${stats[im]!.median.toFixed(0)} ms, ${stats[im]!.gflops.toFixed(1)} GFLOP/s (${(100 * stats[im]!.peakFraction).toFixed(0)} % of ${threadsOf(im)}-thread peak)`).join('; ')}`);
  if (stats.wasm && stats.ort) console.log(`  => ORT ms / wasm ms = ${(stats.ort.median / stats.wasm.median).toFixed(2)} (> 1: webvcm wasm faster)`);
  if (stats.wasm && stats.lavapipe) console.log(`  => lavapipe ms / wasm ms = ${(stats.lavapipe.median / stats.wasm.median).toFixed(2)}`);
}
console.log(`wrote ${OUT}; load at the end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
process.exit(0);
