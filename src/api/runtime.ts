/**
 * The one way a runtime is made: `createRuntime()` picks the backend (WebGPU or the wasm SIMD kernels, see
 * ./backend-choice.ts), acquires the device (the caller's `device`, or an adapter by choice: navigator.gpu in a
 * browser; Dawn with lavapipe → SwiftShader → system Vulkan in Node) and owns the context over it (buffer pool,
 * pipeline cache, command batching) or the wasm engine. Encoders and decoders made with `runtime` share it, and so
 * share its compiled pipelines and pooled buffers; the CLI, the server, eval and the demo all start here.
 *
 *   const runtime = await createRuntime({ adapter: 'lavapipe' });
 *   const enc = await createEncoder({ detector, codec, runtime });
 *   const dec = await createDecoder({ detector, codec, runtime });
 *   …; enc.dispose(); dec.dispose(); runtime.dispose();   // instances never dispose a runtime they were given
 */
import { GpuCodecBackend } from '../gpu/codec-backend.ts';
import { GpuContext } from '../gpu/context.ts';
import type { AdapterChoice, AdapterSummary } from '../gpu/device.ts';
import { GpuDetectorBackend } from '../gpu/detector-backend.ts';
import { GpuUnavailableError } from '../gpu/errors.ts';
import type { GpuImage } from '../gpu/ops/resize.ts';
import type { BgrImage } from '../io/bgr.ts';
import type { Tensor } from '../model/backend.ts';
import type { CodecOps } from '../model/codec/ops.ts';
import type { DetectorBackend } from '../model/detector/heads-adapter.ts';
import { VcmError } from '../util/errors.ts';
import type { Precision } from '../util/f16.ts';
import { WasmCodecBackend, WasmDetectorBackend, WasmEngine } from '../wasm/backend.ts';
import { maxWasmThreads } from '../wasm/kernels.ts';
import {
  decideBackend,
  parseBackend,
  type BackendChoice,
  type BackendDecision,
  type BackendKind,
  type RuntimeRole,
} from './backend-choice.ts';
import { toBgrImage, toDetectorImage, type ImageInput } from './image-input.ts';

export type { AdapterChoice } from '../gpu/device.ts';

/** Every `adapter` value (what `--adapter` accepts). */
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['auto', 'lavapipe', 'swiftshader', 'system'];

export interface RuntimeOptions {
  /** Run on this device (embedding); it is left alive by `dispose()`. Otherwise one is acquired. */
  device?: GPUDevice;
  /** Which adapter to acquire when no `device` is given (Node: 'lavapipe' | 'swiftshader' | 'system'); default 'auto'. */
  adapter?: AdapterChoice;
  /**
   * 'webgpu', 'wasm' (WebAssembly SIMD, no GPU needed) or 'auto' (default; $WEBVCM_BACKEND in Node when set): WebGPU
   * when an adapter exists, else wasm with a one-line notice; in Node also wasm over a software adapter (lavapipe,
   * SwiftShader), where it is measured faster.
   */
  backend?: BackendChoice;
  /** wasm backend: kernel threads (default: every hardware thread where workers can share memory, else 1). */
  threads?: number;
  /** Where auto's one-line fallback notice goes (default console.warn). */
  onNotice?: (line: string) => void;
  /** The graphs it will mostly run (auto's measured choice on software adapters differs by role); default 'decoder'. */
  role?: RuntimeRole;
}

export interface GpuBufferStats {
  live: number;
  free: number;
  liveBytes: number;
  freeBytes: number;
  created: number;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

export class VcmRuntime {
  private disposed = false;
  private constructor(
    /** The GPU context on the WebGPU backend (null on wasm). */
    readonly ctx: GpuContext | null,
    /** The backend and why it was chosen. */
    readonly decision: BackendDecision,
    /** The wasm kernels on the wasm backend (null on WebGPU). */
    readonly engine: WasmEngine | null,
  ) {}

  static async create(o: RuntimeOptions = {}): Promise<VcmRuntime> {
    const role = o.role ?? 'decoder';
    const choice = parseBackend(o.backend);
    if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 64)) {
      throw new VcmError('input', `threads must be an integer in 1..64, got ${String(o.threads)}`);
    }
    let ctx: GpuContext | null = null;
    let decision: BackendDecision;
    let gpuError = 'none found';
    if (choice === 'wasm') decision = decideBackend(choice, { adapter: null, node: isNode, role });
    else {
      try {
        ctx = await GpuContext.create({ device: o.device, adapter: o.adapter });
      } catch (e) {
        if (!(e instanceof GpuUnavailableError) || choice === 'webgpu') throw e;
        gpuError = e.message.split('\n')[0]!;
      }
      try {
        decision = decideBackend(choice, {
          adapter: ctx?.info ?? null,
          error: ctx ? undefined : gpuError,
          node: isNode,
          role,
          external: !!o.device,
        });
      } catch (e) {
        ctx?.dispose();
        throw e;
      }
      if (decision.backend === 'wasm') {
        ctx?.dispose();
        ctx = null;
      }
    }
    if (decision.fallback) (o.onNotice ?? ((l: string) => console.warn(l)))(`webvcm: ${decision.reason}`);
    if (ctx) return new VcmRuntime(ctx, decision, null);
    return new VcmRuntime(null, decision, await WasmEngine.create({ threads: o.threads ?? (await maxWasmThreads()) }));
  }

  get backend(): BackendKind {
    return this.decision.backend;
  }
  get backendReason(): string {
    return this.decision.reason;
  }
  /** The GPU context (WebGPU backend only). */
  gpu(what: string): GpuContext {
    if (!this.ctx)
      throw new VcmError('unsupported', `${what} needs the WebGPU backend; this runtime runs on wasm (${this.decision.reason})`);
    return this.ctx;
  }
  /** The GPUDevice everything made on this runtime runs on (WebGPU backend only). */
  get device(): GPUDevice {
    return this.gpu('device').device;
  }
  /** The adapter in use (null on the wasm backend). */
  get adapterInfo(): AdapterSummary | null {
    return this.ctx?.info ?? null;
  }
  /** Kernel threads on the wasm backend (0 on WebGPU). */
  get threads(): number {
    return this.engine?.threads ?? 0;
  }
  /** Distinct GPU pipelines compiled so far on this runtime (a warm-up makes the first run add none). */
  get pipelineCount(): number {
    return this.ctx?.pipelineCount ?? 0;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** GPU buffer pool counters (live/free buffers and bytes): flat over many calls when nothing leaks (zeros on wasm). */
  gpuBuffers(): GpuBufferStats {
    if (!this.ctx) return { live: 0, free: 0, liveBytes: 0, freeBytes: 0, created: 0 };
    const s = this.ctx.pool.statistics;
    return { live: s.live, free: s.free, liveBytes: s.liveBytes, freeBytes: s.freeBytes, created: s.created };
  }

  /** A detector backend (dense + heads ops). 'f16' needs the adapter feature 'shader-f16' on WebGPU. */
  detectorBackend(precision: Precision = 'f32'): DetectorBackend<Tensor> {
    if (this.ctx) return new GpuDetectorBackend(this.ctx, { precision }) as DetectorBackend<Tensor>;
    return new WasmDetectorBackend(this.engine!, { precision }) as DetectorBackend<Tensor>;
  }

  /** A codec backend (always f32). */
  codecBackend(): CodecOps<Tensor> {
    if (this.ctx) return new GpuCodecBackend(this.ctx) as CodecOps<Tensor>;
    return new WasmCodecBackend(this.engine!) as CodecOps<Tensor>;
  }

  /** An input image on this backend: a GPU image where WebGPU can take it, else host BGR. */
  image(input: ImageInput): Promise<BgrImage | GpuImage> {
    return this.ctx ? toDetectorImage(input, this.ctx) : toBgrImage(input);
  }

  /** Free every resource of the runtime (the device too, unless it was the caller's). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx?.dispose();
    this.engine?.dispose();
  }
}

export function createRuntime(o: RuntimeOptions = {}): Promise<VcmRuntime> {
  return VcmRuntime.create(o);
}
