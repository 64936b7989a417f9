/**
 * The compiled SIMD128 kernels of wasm/kernels.c: instantiation, a small allocator over their linear memory, and a
 * pool of worker threads on a shared memory.
 *
 * The modules' bytes come from src/wasm/kernels.gen.ts (written by tools/build-wasm.mjs), so every loader (Node, Vite,
 * a plain browser import of dist/) gets them without fetching a file. Instantiation is asynchronous because browsers
 * refuse synchronous compilation of modules over 4 KiB on the main thread.
 *
 * Threads: the MT build imports a shared memory; each worker instantiates it on that memory with its own stack and
 * waits (Atomics.wait) on a small control block for jobs. The calling thread posts one job per worker, runs its own
 * share, then waits for the others (Atomics.wait in Node; a spin on Atomics.load on a browser's main thread, where
 * waiting is not allowed). Workers exist only where a SharedArrayBuffer can be shared: in Node, and in a browser page
 * that is cross-origin isolated; elsewhere one thread runs everything. Every output element is computed by one
 * thread in the same order, so the results do not depend on the thread count.
 */
import { KERNELS_MT_BASE64, KERNELS_ST_BASE64 } from './kernels.gen.ts';

/** Thrown when the kernels cannot run here (no WebAssembly SIMD) or memory runs out. */
export class WasmUnavailableError extends Error {
  override name = 'WasmUnavailableError';
}

interface Exports {
  memory?: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  pack_a(a: number, M: number, K: number, lda: number, out: number): void;
  pack_a_deconv(w: number, C: number, OC: number, KK: number, out: number): void;
  block_rows(): number;
  tile_cols(): number;
  conv_scratch(): number;
  deconv_scratch(M: number): number;
  conv2d(x: number, C: number, H: number, W: number, apk: number, bias: number, OC: number, KH: number, KW: number, stride: number,
    pad: number, out: number, OH: number, OW: number, aux: number, epi: number, t0: number, t1: number, oc0: number, oc1: number, scratch: number): void;
  deconv2d(x: number, C: number, H: number, W: number, apk: number, OC: number, KH: number, KW: number, stride: number, pad: number,
    out: number, OH: number, OW: number, oc0: number, oc1: number, scratch: number): void;
  fill_bias(out: number, bias: number, OC: number, HW: number): void;
  epilogue(out: number, res: number, n: number, relu: number): void;
  maxpool2d(x: number, C: number, H: number, W: number, k: number, s: number, p: number, out: number, OH: number, OW: number): void;
  gemm(apk: number, M: number, K: number, b: number, N: number, bias: number, c: number, relu: number, scratch: number): void;
}

/** Epilogue codes of kernels.c. */
export const EPI = { none: 0, relu: 1, gdn: 2, igdn: 3 } as const;

function decodeBase64(s: string): Uint8Array {
  if (typeof atob === 'function') {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  throw new WasmUnavailableError('no base64 decoder (atob) in this runtime');
}

const WASM_PAGE = 65536;
const ALIGN = 64;
/** The linear memory cap (wasm32). */
const MAX_BYTES = 4 * 1024 ** 3 - WASM_PAGE;

const modules = new Map<'ST' | 'MT', Promise<WebAssembly.Module>>();

/** Compile a build once per realm (instances are per backend). */
function compiled(variant: 'ST' | 'MT'): Promise<WebAssembly.Module> {
  if (typeof WebAssembly !== 'object') return Promise.reject(new WasmUnavailableError('WebAssembly is not available'));
  let p = modules.get(variant);
  if (!p) {
    p = WebAssembly.compile(decodeBase64(variant === 'ST' ? KERNELS_ST_BASE64 : KERNELS_MT_BASE64) as BufferSource).catch((e: unknown) => {
      modules.delete(variant);
      throw new WasmUnavailableError(`the wasm kernels did not compile (WebAssembly SIMD128 needed): ${(e as Error).message}`);
    });
    modules.set(variant, p);
  }
  return p;
}

/** Whether this runtime can compile the kernels (SIMD128). */
export async function wasmSupported(): Promise<boolean> {
  try { await compiled('ST'); return true; } catch { return false; }
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** Threads this runtime can run: hardware threads where a shared memory can be used (Node, or cross-origin isolated). */
export async function maxWasmThreads(): Promise<number> {
  if (typeof SharedArrayBuffer === 'undefined') return 1;
  if (isNode) {
    const spec = 'node:os';
    const os = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('node:os');
    return Math.max(1, Math.min(MAX_WORKERS + 1, os.availableParallelism?.() ?? os.cpus().length));
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== true) return 1;
  const hc = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_WORKERS + 1, hc ?? 1));
}

/** The worker's code (plain JS, no imports): Node eval workers and browser Blob workers alike. */
const WORKER_SRC = `
const start = (d, post) => {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  const x = inst.exports;
  x.__stack_pointer.value = d.stackTop;
  const ctl = new Int32Array(d.memory.buffer, d.ctl, ${'${CTL_INTS}'});
  const fns = [x.conv2d, x.deconv2d];
  let seq = d.seq;
  post('ready');
  for (;;) {
    Atomics.wait(ctl, 0, seq);
    seq = Atomics.load(ctl, 0);
    if (Atomics.load(ctl, 1) === -1) return;
    const base = ${'${ARGS0}'} + d.tid * ${'${SLOT}'};
    const f = ctl[base];
    try { if (f >= 0) fns[f](...Array.from(ctl.subarray(base + 1, base + ${'${SLOT}'}))); }
    catch (e) { Atomics.store(ctl, 3, 1); }
    Atomics.add(ctl, 2, 1);
    Atomics.notify(ctl, 2);
  }
};
if (typeof require === 'function' && typeof self === 'undefined') {
  const name = 'node:' + 'worker_threads'; // a computed name, as the rest of the package imports Node modules
  const wt = require(name);
  start(wt.workerData, (m) => wt.parentPort.postMessage(m));
} else {
  self.onmessage = (e) => start(e.data, (m) => self.postMessage(m));
}
`;
/** Control block: [0] job sequence, [1] −1 = exit, [2] workers done, [3] error flag, then one slot per worker. */
const ARGS0 = 4, SLOT = 24, MAX_WORKERS = 15;
const CTL_INTS = ARGS0 + SLOT * MAX_WORKERS;
const STACK_BYTES = 256 * 1024;
/** Job kinds (the worker's `fns`). */
export const JOB = { conv2d: 0, deconv2d: 1 } as const;
export type Job = [kind: number, args: number[]];

interface WorkerLike { terminate(): unknown }

/**
 * One instance of the kernels with its own linear memory and a first-fit allocator over it (byte offsets, 64-byte
 * aligned). Prepared weights stay allocated until released; per-call buffers are freed when the call returns.
 */
export class WasmKernels {
  readonly x: Exports;
  readonly memory: WebAssembly.Memory;
  /** Free blocks [offset, size], sorted by offset, coalesced. */
  private free: [number, number][] = [];
  private top: number;
  private live = 0;
  private workers: WorkerLike[] = [];
  private ctl: Int32Array | null = null;
  private seq = 0;

  private constructor(inst: WebAssembly.Instance, memory: WebAssembly.Memory) {
    this.x = inst.exports as unknown as Exports;
    this.memory = memory;
    this.top = Math.ceil((this.x.__heap_base.value as number) / ALIGN) * ALIGN;
  }

  /** `threads` (default 1): the calling thread plus threads − 1 workers, where maxWasmThreads() allows them. */
  static async create(opts: { threads?: number } = {}): Promise<WasmKernels> {
    const threads = Math.max(1, Math.min(opts.threads ?? 1, await maxWasmThreads()));
    if (threads === 1) {
      const inst = await WebAssembly.instantiate(await compiled('ST'), {});
      return new WasmKernels(inst, (inst.exports as unknown as Exports).memory!);
    }
    const mod = await compiled('MT');
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
    const k = new WasmKernels(await WebAssembly.instantiate(mod, { env: { memory } }), memory);
    await k.startWorkers(mod, threads - 1);
    return k;
  }

  /** The calling thread + the workers. */
  get threads(): number { return this.workers.length + 1; }

  private async startWorkers(module: WebAssembly.Module, n: number): Promise<void> {
    const ctlOff = this.alloc(CTL_INTS * 4);
    this.ctl = new Int32Array(this.memory.buffer, ctlOff, CTL_INTS);
    const src = WORKER_SRC.replaceAll('${CTL_INTS}', String(CTL_INTS)).replaceAll('${ARGS0}', String(ARGS0)).replaceAll('${SLOT}', String(SLOT));
    const ready: Promise<void>[] = [];
    for (let tid = 0; tid < n; tid++) {
      const stack = this.alloc(STACK_BYTES);
      const data = { module, memory: this.memory, stackTop: stack + STACK_BYTES, ctl: ctlOff, tid, seq: this.seq };
      if (isNode) {
        const spec = 'node:worker_threads';
        const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('node:worker_threads');
        const w = new wt.Worker(src, { eval: true, workerData: data });
        w.unref();
        this.workers.push(w);
        ready.push(new Promise((res, rej) => { w.once('message', () => res()); w.once('error', rej); }));
      } else {
        const url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
        const w = new Worker(url);
        URL.revokeObjectURL(url);
        this.workers.push(w);
        ready.push(new Promise((res, rej) => { w.onmessage = () => res(); w.onerror = (e) => rej(new WasmUnavailableError(`wasm worker failed: ${e.message}`)); }));
        w.postMessage(data);
      }
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * Run jobs[0] on this thread and jobs[i] on worker i − 1, all at once; returns when every one is done. At most
   * `threads` jobs.
   */
  parallel(jobs: Job[]): void {
    const fns = [this.x.conv2d, this.x.deconv2d] as ((...a: number[]) => void)[];
    if (jobs.length === 0) return;
    if (jobs.length > this.threads) throw new WasmUnavailableError(`${jobs.length} jobs for ${this.threads} threads`);
    if (jobs.length === 1 || !this.ctl) { for (const [f, a] of jobs) fns[f]!(...a); return; }
    const ctl = this.ctl, nw = this.workers.length;
    for (let t = 0; t < nw; t++) {
      const base = ARGS0 + t * SLOT, job = jobs[t + 1];
      ctl[base] = job ? job[0] : -1;
      if (job) for (let i = 0; i < job[1].length; i++) ctl[base + 1 + i] = job[1][i]!;
    }
    Atomics.store(ctl, 2, 0);
    Atomics.store(ctl, 3, 0);
    this.seq = (this.seq + 1) | 0;
    Atomics.store(ctl, 0, this.seq);
    Atomics.notify(ctl, 0);
    let err: unknown = null;
    try { fns[jobs[0]![0]]!(...jobs[0]![1]); } catch (e) { err = e; }
    for (;;) {
      const done = Atomics.load(ctl, 2);
      if (done >= nw) break;
      if (isNode) Atomics.wait(ctl, 2, done, 50);
    }
    if (err) throw err;
    if (Atomics.load(ctl, 3)) throw new WasmUnavailableError('a wasm worker trapped');
  }

  /** Stop the workers (the memory goes with the last reference). */
  dispose(): void {
    if (this.ctl && this.workers.length) {
      Atomics.store(this.ctl, 1, -1);
      Atomics.add(this.ctl, 0, 1);
      Atomics.notify(this.ctl, 0);
    }
    for (const w of this.workers) void w.terminate();
    this.workers = [];
    this.ctl = null;
  }
  /** Bytes allocated now (weights + live per-call buffers). */
  get liveBytes(): number { return this.live; }
  get heapBytes(): number { return this.memory.buffer.byteLength; }

  /** Allocate `bytes` (rounded up to 64), growing memory when needed. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const [off, sz] = this.free[i]!;
      if (sz < size) continue;
      if (sz === size) this.free.splice(i, 1);
      else this.free[i] = [off + size, sz - size];
      this.live += size;
      return off;
    }
    const off = this.top;
    const end = off + size;
    if (end > MAX_BYTES) throw new WasmUnavailableError(`wasm memory exhausted: ${end} bytes needed, the limit is ${MAX_BYTES}`);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // grow by at least a quarter of the current size, so repeated growth stays amortised
      const want = Math.min(MAX_BYTES, Math.max(end, have + (have >> 2)));
      this.memory.grow(Math.ceil((want - have) / WASM_PAGE));
    }
    this.top = end;
    this.live += size;
    return off;
  }

  /** Return a block from `alloc` (size as asked for). */
  dealloc(off: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    this.live -= size;
    if (off + size === this.top) {
      this.top = off;
      // the block below may be free too: fold it into the top
      const last = this.free[this.free.length - 1];
      if (last && last[0] + last[1] === this.top) { this.top = last[0]; this.free.pop(); }
      return;
    }
    let i = 0;
    while (i < this.free.length && this.free[i]![0] < off) i++;
    this.free.splice(i, 0, [off, size]);
    const cur = this.free[i]!;
    const next = this.free[i + 1];
    if (next && cur[0] + cur[1] === next[0]) { cur[1] += next[1]; this.free.splice(i + 1, 1); }
    const prev = this.free[i - 1];
    if (prev && prev[0] + prev[1] === cur[0]) { prev[1] += cur[1]; this.free.splice(i, 1); }
  }

  /** A float32 view (invalidated when memory grows: take it right before use). */
  f32(off: number, n: number): Float32Array { return new Float32Array(this.memory.buffer, off, n); }

  /** Allocate and fill with `data` (float32). */
  put(data: Float32Array): number {
    const off = this.alloc(data.length * 4);
    this.f32(off, data.length).set(data);
    return off;
  }
}
