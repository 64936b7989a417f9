/**
 * The one way a GPU runtime is made: `createRuntime()` acquires the device (the caller's `device`, or an adapter by
 * choice: navigator.gpu in a browser; Dawn with lavapipe → SwiftShader → system Vulkan in Node) and owns the context
 * over it (buffer pool, pipeline cache, command batching). Encoders and decoders made with `runtime` share it, and
 * so share its compiled pipelines and pooled buffers; the CLI, the server, eval and the demo all start here.
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
import type { Precision } from '../util/f16.ts';

export type { AdapterChoice } from '../gpu/device.ts';

/** Every `adapter` value (what `--adapter` accepts). */
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['auto', 'lavapipe', 'swiftshader', 'system'];

export interface RuntimeOptions {
  /** Run on this device (embedding); it is left alive by `dispose()`. Otherwise one is acquired. */
  device?: GPUDevice;
  /** Which adapter to acquire when no `device` is given (Node: 'lavapipe' | 'swiftshader' | 'system'); default 'auto'. */
  adapter?: AdapterChoice;
}

export interface GpuBufferStats { live: number; free: number; liveBytes: number; freeBytes: number; created: number }

export class VcmRuntime {
  private disposed = false;
  private constructor(
    /** The GPU context (for building blocks that take one: the detector and codec backends, kernels). */
    readonly ctx: GpuContext,
  ) {}

  static async create(o: RuntimeOptions = {}): Promise<VcmRuntime> {
    return new VcmRuntime(await GpuContext.create({ device: o.device, adapter: o.adapter }));
  }

  /** The GPUDevice everything made on this runtime runs on. */
  get device(): GPUDevice { return this.ctx.device; }
  /** The adapter in use (vendor, architecture, description, backend). */
  get adapterInfo(): AdapterSummary { return this.ctx.info; }
  /** Distinct GPU pipelines compiled so far on this runtime (a warm-up makes the first run add none). */
  get pipelineCount(): number { return this.ctx.pipelineCount; }
  get isDisposed(): boolean { return this.disposed; }

  /** GPU buffer pool counters (live/free buffers and bytes): flat over many calls when nothing leaks. */
  gpuBuffers(): GpuBufferStats {
    const s = this.ctx.pool.statistics;
    return { live: s.live, free: s.free, liveBytes: s.liveBytes, freeBytes: s.freeBytes, created: s.created };
  }

  /**
   * A detector backend (dense + heads ops) on this runtime. 'f16' needs the adapter feature 'shader-f16'
   * (GpuUnavailableError otherwise).
   */
  detectorBackend(precision: Precision = 'f32'): GpuDetectorBackend {
    return new GpuDetectorBackend(this.ctx, { precision });
  }

  /** A codec backend (always f32) on this runtime. */
  codecBackend(): GpuCodecBackend {
    return new GpuCodecBackend(this.ctx);
  }

  /** Free every GPU resource of the runtime (the device too, unless it was the caller's). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ctx.dispose();
  }
}

export function createRuntime(o: RuntimeOptions = {}): Promise<VcmRuntime> { return VcmRuntime.create(o); }
