/**
 * GpuContext: the runtime every op runs through. It owns (or borrows) a device, a buffer pool, a pipeline cache
 * keyed by shader variant, a cache of uniform buffers keyed by content, and one open command encoder into which
 * dispatches are batched until `flush()` (called by readbacks, or explicitly).
 */
import { acquireDevice, gpuWait, watchDeviceLoss, type AcquireOptions, type AdapterSummary } from './device.ts';
import { GpuDeviceLostError, GpuError, GpuShapeError, GpuValidationError } from './errors.ts';
import { BufferPool } from './pool.ts';
import { shaderSource, variantKey, type Defines } from './shaders.ts';
import { GpuTensor, chwToHwc, hwcToChw, type DType, type Layout } from './tensor.ts';

export interface ContextOptions extends AcquireOptions {
  /** Record GPU timestamps per dispatch label (needs 'timestamp-query'). */
  timestamps?: boolean;
  /** Max dispatches recorded before an automatic submit. */
  maxBatch?: number;
}

export type Binding = GpuTensor | GPUBuffer;

/** One compute pipeline as the ops ask for it, plus how its bindings are used (collected by `plan`). */
export interface PipelineSpec {
  shader: string;
  defines: Defines;
  entry: string;
  key: string;
  /** Per @binding: 'uniform' or 'storage', and the byte size bound in the planned run. */
  bindings?: { kind: 'uniform' | 'storage'; size: number }[];
}

/** Inside `plan`: run `g` without recording its pipelines (work that only produces inputs for the planned part). */
export type PlanSkip = <R>(g: () => Promise<R>) => Promise<R>;

/** What `warm` did: pipelines compiled (async), primed by a one-workgroup dispatch, and the milliseconds taken. */
export interface WarmReport {
  specs: number;
  compiled: number;
  primed: number;
  failed: string[];
  compileMs: number;
  primeMs: number;
  perPipelineMs?: Record<string, number>;
}

const MAX_TIMESTAMP_PAIRS = 2048;

/**
 * Device ownership: how many live contexts use each device webvcm acquired itself. Only a device webvcm created is
 * ever destroyed, and only when the last context on it (its creator or one lent it, e.g. a decoder built on an
 * encoder's `device`) is disposed — so disposing the creator first no longer kills the borrowers.
 */
const ownedDeviceUsers = new WeakMap<GPUDevice, { users: number; creatorDisposed: boolean }>();

export class GpuContext {
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  private pipelines = new Map<string, GPUComputePipeline>();
  private uniforms = new Map<string, GPUBuffer>();
  private encoder: GPUCommandEncoder | null = null;
  private recorded = 0;
  private lostError: GpuDeviceLostError | null = null;
  private uncaptured: string[] = [];
  private disposed = false;
  private querySet: GPUQuerySet | null = null;
  private queryResolve: GPUBuffer | null = null;
  private queryLabels: string[] = [];
  private timingsMs = new Map<string, number>();
  private planned: Map<string, PipelineSpec> | null = null;
  private planQuiet = 0;
  private specs = new Map<string, PipelineSpec>();
  readonly maxBatch: number;
  /** Benches: make `warm` wait after each primed pipeline and report its milliseconds. */
  profileWarmup = false;

  private constructor(
    readonly device: GPUDevice,
    readonly info: AdapterSummary,
    readonly features: string[],
    private readonly ownsDevice: boolean,
    opts: ContextOptions,
  ) {
    this.limits = device.limits;
    this.pool = new BufferPool(device, Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize));
    this.maxBatch = opts.maxBatch ?? 64;
    if (ownsDevice) ownedDeviceUsers.set(device, { users: 1, creatorDisposed: false });
    else {
      const u = ownedDeviceUsers.get(device);
      if (u) u.users++;
    }
    watchDeviceLoss(device, (e) => {
      this.lostError = e;
    });
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    if (opts.timestamps && device.features.has('timestamp-query')) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: MAX_TIMESTAMP_PAIRS * 2 });
      this.queryResolve = device.createBuffer({
        size: MAX_TIMESTAMP_PAIRS * 16,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  static async create(opts: ContextOptions = {}): Promise<GpuContext> {
    const acq = await acquireDevice(opts);
    return new GpuContext(acq.device, acq.info, acq.features, acq.owned, opts);
  }

  get hasF16(): boolean {
    return this.features.includes('shader-f16');
  }
  get timestampsEnabled(): boolean {
    return this.querySet !== null;
  }

  private check(): void {
    if (this.disposed) throw new GpuError('GpuContext used after dispose()');
    if (this.lostError) throw this.lostError;
  }

  // ---- tensors ---------------------------------------------------------------------------------------------------
  releaseBuffer(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  /** Uninitialised pooled tensor. */
  empty(shape: readonly number[], dtype: DType = 'f32', layout: Layout = 'flat', label?: string): GpuTensor {
    this.check();
    const n = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(n) || n <= 0) throw new GpuShapeError(`bad tensor shape [${shape.join(',')}]`);
    if (n * 4 > this.limits.maxStorageBufferBindingSize) {
      throw new GpuShapeError(
        `tensor [${shape.join('x')}] (${n * 4} bytes) exceeds maxStorageBufferBindingSize ${this.limits.maxStorageBufferBindingSize}`,
        'resource',
      );
    }
    return new GpuTensor(this, this.pool.acquire(n * 4, label), shape, dtype, layout);
  }

  /** Upload host data stored in `layout` order already. `persistent` tensors (weights) bypass the pool. */
  upload(
    data: Float32Array | Int32Array | Uint32Array,
    shape: readonly number[],
    opts: { layout?: Layout; persistent?: boolean; label?: string } = {},
  ): GpuTensor {
    this.check();
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new GpuShapeError(`upload: ${data.length} values for shape [${shape.join(',')}]`);
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : 'u32';
    let t: GpuTensor;
    if (opts.persistent) {
      const size = Math.max(16, Math.ceil((n * 4) / 16) * 16);
      const buf = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
        label: opts.label,
      });
      t = new GpuTensor(this, buf, shape, dtype, opts.layout ?? 'flat', true);
    } else {
      t = this.empty(shape, dtype, opts.layout ?? 'flat', opts.label);
      // A pooled buffer may have been released while recorded (not yet submitted) dispatches still read it.
      // queue.writeBuffer runs before the next submit, so submit the recorded work first to keep program order.
      if (this.encoder) this.flush();
    }
    this.device.queue.writeBuffer(t.buffer, 0, data.buffer, data.byteOffset, n * 4);
    return t;
  }

  /** Upload an NCHW (batch 1) feature map as an HWC tensor. */
  uploadCHW(data: Float32Array, c: number, h: number, w: number): GpuTensor {
    if (data.length !== c * h * w) throw new GpuShapeError(`uploadCHW: ${data.length} values for [${c},${h},${w}]`);
    return this.upload(chwToHwc(data, c, h, w), [c, h, w], { layout: 'hwc' });
  }

  /** Read a tensor back in its storage order. */
  async read(t: GpuTensor): Promise<Float32Array | Int32Array | Uint32Array> {
    this.check();
    if (this.planned) {
      // planning: no GPU work ran, so there is nothing to read; zeros keep the graph code going
      return t.dtype === 'f32' ? new Float32Array(t.size) : t.dtype === 'i32' ? new Int32Array(t.size) : new Uint32Array(t.size);
    }
    const bytes = t.size * 4;
    const staging = this.device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.encoderFor();
    enc.copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    this.flush();
    try {
      await gpuWait(staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      staging.destroy();
      this.check();
      throw new GpuError(`readback failed: ${(e as Error).message}`, { cause: e });
    }
    const raw = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    this.throwUncaptured('read');
    return t.dtype === 'f32' ? new Float32Array(raw) : t.dtype === 'i32' ? new Int32Array(raw) : new Uint32Array(raw);
  }

  /** Read a [C,H,W] feature map back as NCHW float32, whatever its storage layout. */
  async readCHW(t: GpuTensor): Promise<Float32Array> {
    const data = (await this.read(t)) as Float32Array;
    if (t.layout !== 'hwc') return data;
    const [c, h, w] = t.chw;
    return hwcToChw(data, c, h, w);
  }

  // ---- pipelines and dispatch ------------------------------------------------------------------------------------
  pipeline(shader: string, defines: Defines = {}, entry = 'main'): GPUComputePipeline {
    const key = variantKey(shader, defines, entry);
    let p = this.pipelines.get(key);
    if (!p) {
      if (this.planned) {
        // planning: note the variant, compile nothing (`warm` compiles them all at once, asynchronously)
        if (!this.planQuiet && !this.planned.has(key)) this.planned.set(key, { shader, defines: { ...defines }, entry, key });
        return { label: key } as GPUComputePipeline;
      }
      const code = shaderSource(shader, defines);
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: entry }, label: key });
      this.pipelines.set(key, p);
      this.specs.set(key, { shader, defines: { ...defines }, entry, key });
    }
    return p;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Keys of the pipelines compiled so far (cache order). */
  pipelineKeys(): string[] {
    return [...this.pipelines.keys()];
  }

  /**
   * Run `fn` (graph code) without GPU work, to learn which pipeline variants it needs: every `pipeline()` miss is
   * recorded instead of compiled, dispatches are dropped and reads return zeros. Buffers are still allocated (the
   * pool keeps them for the real run). Shapes that depend on read-back data (e.g. the number of proposals) follow
   * the zeros, so data-dependent pipelines can be missed; `warm` after a real run covers those.
   */
  async plan(fn: (unrecorded: PlanSkip) => Promise<unknown> | unknown): Promise<PipelineSpec[]> {
    this.check();
    if (this.planned) throw new GpuError('GpuContext.plan is not re-entrant');
    this.flush();
    this.planned = new Map();
    const unrecorded: PlanSkip = async (g) => {
      this.planQuiet++;
      try {
        return await g();
      } finally {
        this.planQuiet--;
      }
    };
    try {
      await fn(unrecorded);
      return [...this.planned.values()];
    } finally {
      this.planned = null;
      this.flush();
    }
  }

  /**
   * Compile `specs` with createComputePipelineAsync, all in flight at once, and prime each new pipeline with a
   * one-workgroup dispatch on zero-filled dummy buffers: software drivers (llvmpipe/lavapipe) JIT a shader at its
   * first dispatch, not at pipeline creation, so compiling alone leaves most of the cold-start cost in place.
   * Failures (a variant the adapter rejects) are reported, not thrown: the real run then reports the real error.
   */
  async warm(specs: PipelineSpec[], opts: { prime?: boolean; profile?: boolean } = {}): Promise<WarmReport> {
    this.check();
    const todo = specs.filter((s) => !this.pipelines.has(s.key));
    const failed: string[] = [];
    const t0 = performance.now();
    this.device.pushErrorScope('validation');
    const made = await Promise.all(
      todo.map(async (s) => {
        try {
          const module = this.device.createShaderModule({ code: shaderSource(s.shader, s.defines), label: s.key });
          const p = await this.device.createComputePipelineAsync({
            layout: 'auto',
            compute: { module, entryPoint: s.entry },
            label: s.key,
          });
          return [s, p] as const;
        } catch (e) {
          failed.push(`${s.key}: ${(e as Error).message.split('\n')[0]}`);
          return null;
        }
      }),
    );
    const err = await gpuWait(this.device.popErrorScope());
    if (err) failed.push(err.message.split('\n')[0]!);
    const ok = made.filter((m): m is NonNullable<typeof m> => m !== null);
    for (const [s, p] of ok)
      if (!this.pipelines.has(s.key)) {
        this.pipelines.set(s.key, p);
        this.specs.set(s.key, { ...s });
      }
    const compileMs = performance.now() - t0;
    let primed = 0;
    const t1 = performance.now();
    const perPipelineMs: Record<string, number> = {};
    if (opts.prime !== false && ok.length) {
      this.device.pushErrorScope('validation');
      // one submit per pipeline: the driver JITs at the first dispatch; waiting per pipeline gives its cost
      for (const [s, p] of ok) {
        const b = s.bindings;
        if (!b) continue;
        const dummies: GPUBuffer[] = [];
        const entries: GPUBindGroupEntry[] = b.map((bb, i) => {
          const size = Math.max(256, Math.min(bb.size, bb.kind === 'uniform' ? this.limits.maxUniformBufferBindingSize : 1 << 16));
          const buf = this.device.createBuffer({
            size: Math.ceil(size / 16) * 16,
            usage: bb.kind === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE,
            label: `warm.${i}`,
          });
          dummies.push(buf);
          return { binding: i, resource: { buffer: buf } };
        });
        const tp = performance.now();
        const enc = this.device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(p);
        pass.setBindGroup(0, this.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }));
        pass.dispatchWorkgroups(1);
        pass.end();
        this.device.queue.submit([enc.finish()]);
        if (opts.profile ?? this.profileWarmup) {
          await gpuWait(this.device.queue.onSubmittedWorkDone());
          perPipelineMs[s.key] = performance.now() - tp;
        }
        for (const d of dummies) d.destroy();
        primed++;
      }
      await gpuWait(this.device.queue.onSubmittedWorkDone());
      const e2 = await gpuWait(this.device.popErrorScope());
      if (e2) {
        failed.push(`prime: ${e2.message.split('\n')[0]}`);
      }
    }
    return {
      specs: specs.length,
      compiled: ok.length,
      primed,
      failed,
      compileMs,
      primeMs: performance.now() - t1,
      perPipelineMs: (opts.profile ?? this.profileWarmup) ? perPipelineMs : undefined,
    };
  }

  /** A uniform buffer holding `words` (u32/i32/f32 bit patterns), cached by content. */
  uniform(words: ArrayLike<number>, kind: 'u32' | 'f32' = 'u32'): GPUBuffer {
    const arr = kind === 'u32' ? Uint32Array.from(words) : Float32Array.from(words);
    const padded = new Uint32Array(Math.max(4, Math.ceil(arr.length / 4) * 4));
    padded.set(new Uint32Array(arr.buffer));
    const key = Array.prototype.join.call(padded, ',');
    let buf = this.uniforms.get(key);
    if (!buf) {
      if (this.uniforms.size > 4096) {
        // Bounded: drop the oldest entries (they may still be referenced by recorded work; flush first).
        this.flush();
        for (const [k, b] of this.uniforms) {
          b.destroy();
          this.uniforms.delete(k);
          if (this.uniforms.size <= 2048) break;
        }
      }
      buf = this.device.createBuffer({ size: padded.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(buf, 0, padded);
      this.uniforms.set(key, buf);
    }
    return buf;
  }

  /** The open command encoder (created if needed), for copies that must stay in order with recorded dispatches. */
  commandEncoder(): GPUCommandEncoder {
    this.check();
    return this.encoderFor();
  }

  private encoderFor(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Record one dispatch. `bindings[i]` goes to @binding(i) of group 0 (a uniform buffer first, by convention).
   * Workgroup counts above the per-dimension limit are folded into y (shaders index with num_workgroups).
   */
  dispatch(pipeline: GPUComputePipeline, bindings: Binding[], workgroups: [number, number?, number?], label = pipeline.label): void {
    this.check();
    if (this.planned) {
      const spec = this.planned.get(pipeline.label);
      if (spec && !spec.bindings) {
        spec.bindings = bindings.map((b) => {
          const buf = b instanceof GpuTensor ? b.buffer : b;
          return {
            kind: buf.usage & GPUBufferUsage.UNIFORM ? ('uniform' as const) : ('storage' as const),
            size: b instanceof GpuTensor ? b.byteLength : buf.size,
          };
        });
      }
      return;
    }
    const entries: GPUBindGroupEntry[] = bindings.map((b, i) => ({
      binding: i,
      resource: { buffer: b instanceof GpuTensor ? b.buffer : b },
    }));
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const enc = this.encoderFor();
    let desc: GPUComputePassDescriptor | undefined;
    if (this.querySet && this.queryLabels.length < MAX_TIMESTAMP_PAIRS) {
      const i = this.queryLabels.length;
      this.queryLabels.push(label);
      desc = { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
    }
    const pass = enc.beginComputePass(desc);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = workgroups;
    const lim = this.limits.maxComputeWorkgroupsPerDimension;
    if (x <= lim) pass.dispatchWorkgroups(x, y, z);
    else {
      if (y !== 1) throw new GpuShapeError(`dispatch ${label}: ${x}x${y} workgroups exceed the per-dimension limit ${lim}`, 'resource');
      pass.dispatchWorkgroups(lim, Math.ceil(x / lim), z);
    }
    pass.end();
    if (++this.recorded >= this.maxBatch) this.flush();
  }

  /** 1-D dispatch helper: enough 64-wide workgroups for n invocations, folded into 2-D when needed. */
  dispatch1d(pipeline: GPUComputePipeline, bindings: Binding[], n: number, label?: string, wgSize = 64): void {
    const groups = Math.max(1, Math.ceil(n / wgSize));
    const lim = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= lim) this.dispatch(pipeline, bindings, [groups], label);
    else this.dispatch(pipeline, bindings, [lim, Math.ceil(groups / lim)], label);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    const enc = this.encoder;
    this.encoder = null;
    this.recorded = 0;
    this.device.queue.submit([enc.finish()]);
  }

  /** Wait until the queue is idle (flushes first). */
  async sync(): Promise<void> {
    this.flush();
    await gpuWait(this.device.queue.onSubmittedWorkDone());
    this.check();
    this.throwUncaptured('sync');
  }

  /** Run `fn` inside validation + out-of-memory error scopes; throws GpuValidationError for anything they caught. */
  async scoped<T>(label: string, fn: () => T | Promise<T>): Promise<T> {
    this.check();
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
      this.flush();
    } finally {
      const v = await gpuWait(this.device.popErrorScope());
      const o = await gpuWait(this.device.popErrorScope());
      // A GPU error caught by the scopes is the real failure: it replaces whatever fn threw (which it usually caused).
      /* eslint-disable no-unsafe-finally */
      if (v) throw new GpuValidationError('validation', label, v.message);
      if (o) throw new GpuValidationError('out-of-memory', label, o.message);
      /* eslint-enable no-unsafe-finally */
    }
    return result;
  }

  private throwUncaptured(where: string): void {
    if (this.uncaptured.length) {
      const msgs = this.uncaptured.splice(0);
      throw new GpuValidationError('validation', where, msgs.join('\n'));
    }
  }

  // ---- timestamps ------------------------------------------------------------------------------------------------
  /** Resolve recorded timestamps into per-label milliseconds (summed) and reset. Empty when not enabled. */
  async collectTimings(): Promise<Map<string, number>> {
    if (!this.querySet || !this.queryResolve || this.queryLabels.length === 0) return new Map(this.timingsMs);
    const n = this.queryLabels.length;
    const enc = this.encoderFor();
    enc.resolveQuerySet(this.querySet, 0, 2 * n, this.queryResolve, 0);
    const staging = this.device.createBuffer({ size: n * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    enc.copyBufferToBuffer(this.queryResolve, 0, staging, 0, n * 16);
    this.flush();
    await gpuWait(staging.mapAsync(GPUMapMode.READ));
    const t = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    for (let i = 0; i < n; i++) {
      const ms = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
      const label = this.queryLabels[i]!;
      this.timingsMs.set(label, (this.timingsMs.get(label) ?? 0) + (ms > 0 && ms < 1e7 ? ms : 0));
    }
    this.queryLabels = [];
    const out = new Map(this.timingsMs);
    this.timingsMs.clear();
    return out;
  }

  /** Free every GPU resource this context made; destroys the device only if the context created it. */
  dispose(): void {
    if (this.disposed) return;
    try {
      this.flush();
    } catch {
      /* device may be lost */
    }
    this.pool.destroyAll();
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.pipelines.clear();
    this.querySet?.destroy();
    this.queryResolve?.destroy();
    this.disposed = true;
    const u = ownedDeviceUsers.get(this.device);
    if (!u) return; // a caller's device: never ours to destroy
    u.users--;
    if (this.ownsDevice) u.creatorDisposed = true;
    if (u.users <= 0 && u.creatorDisposed) {
      ownedDeviceUsers.delete(this.device);
      this.device.destroy();
    }
  }
}
