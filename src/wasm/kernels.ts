/**
 * The compiled SIMD128 kernels of wasm/kernels.c: instantiation and a small allocator over their linear memory.
 *
 * The module's bytes come from src/wasm/kernels.gen.ts (written by tools/build-wasm.mjs), so every loader (Node, Vite,
 * a plain browser import of dist/) gets them without fetching a file. Instantiation is asynchronous because browsers
 * refuse synchronous compilation of modules over 4 KiB on the main thread.
 */
import { KERNELS_WASM_BASE64, KERNELS_WASM_SHA256 } from './kernels.gen.ts';

/** Thrown when the kernels cannot run here (no WebAssembly SIMD) or memory runs out. */
export class WasmUnavailableError extends Error {
  override name = 'WasmUnavailableError';
}

interface Exports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  pack_a(a: number, M: number, K: number, lda: number, out: number): void;
  pack_a_deconv(w: number, C: number, OC: number, KK: number, out: number): void;
  block_rows(): number;
  tile_cols(): number;
  conv_scratch(): number;
  deconv_scratch(M: number): number;
  conv2d(x: number, C: number, H: number, W: number, apk: number, bias: number, OC: number, KH: number, KW: number, stride: number,
    pad: number, out: number, OH: number, OW: number, aux: number, epi: number, t0: number, t1: number, scratch: number): void;
  deconv2d(x: number, C: number, H: number, W: number, apk: number, OC: number, KH: number, KW: number, stride: number, pad: number,
    out: number, OH: number, OW: number, t0: number, t1: number, scratch: number): void;
  fill_bias(out: number, bias: number, OC: number, HW: number): void;
  epilogue(out: number, res: number, n: number, relu: number): void;
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

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** Compile the module once per realm (instances are per backend). */
function compiled(): Promise<WebAssembly.Module> {
  if (typeof WebAssembly !== 'object') return Promise.reject(new WasmUnavailableError('WebAssembly is not available'));
  modulePromise ??= WebAssembly.compile(decodeBase64(KERNELS_WASM_BASE64) as BufferSource).catch((e: unknown) => {
    modulePromise = null;
    throw new WasmUnavailableError(`the wasm kernels did not compile (WebAssembly SIMD128 needed): ${(e as Error).message}`);
  });
  return modulePromise;
}

/** Whether this runtime can compile the kernels (SIMD128). */
export async function wasmSupported(): Promise<boolean> {
  try { await compiled(); return true; } catch { return false; }
}

/**
 * One instance of the kernels with its own linear memory and a first-fit allocator over it (byte offsets, 64-byte
 * aligned). Prepared weights stay allocated until released; per-call buffers are freed when the call returns.
 */
export class WasmKernels {
  readonly x: Exports;
  readonly sha256 = KERNELS_WASM_SHA256;
  /** Free blocks [offset, size], sorted by offset, coalesced. */
  private free: [number, number][] = [];
  private top: number;
  private live = 0;

  private constructor(inst: WebAssembly.Instance) {
    this.x = inst.exports as unknown as Exports;
    this.top = Math.ceil((this.x.__heap_base.value as number) / ALIGN) * ALIGN;
  }

  static async create(): Promise<WasmKernels> {
    const mod = await compiled();
    return new WasmKernels(await WebAssembly.instantiate(mod, {}));
  }

  get memory(): WebAssembly.Memory { return this.x.memory; }
  /** Bytes allocated now (weights + live per-call buffers). */
  get liveBytes(): number { return this.live; }
  get heapBytes(): number { return this.x.memory.buffer.byteLength; }

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
    const have = this.x.memory.buffer.byteLength;
    if (end > have) {
      // grow by at least a quarter of the current size, so repeated growth stays amortised
      const want = Math.min(MAX_BYTES, Math.max(end, have + (have >> 2)));
      this.x.memory.grow(Math.ceil((want - have) / WASM_PAGE));
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
  f32(off: number, n: number): Float32Array { return new Float32Array(this.x.memory.buffer, off, n); }

  /** Allocate and fill with `data` (float32). */
  put(data: Float32Array): number {
    const off = this.alloc(data.length * 4);
    this.f32(off, data.length).set(data);
    return off;
  }
}
