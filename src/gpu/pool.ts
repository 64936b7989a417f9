/** Size-bucketed pool of storage buffers. Reuse is safe across dispatches because one queue executes in order. */
export const STORAGE_USAGE = 0x0080 /* STORAGE */ | 0x0004 /* COPY_SRC */ | 0x0008; /* COPY_DST */

/** Bucket size for a request: next of 2^k·{1, 1.25, 1.5, 1.75}, at least 256 bytes (pure; tested). */
export function bucketSize(bytes: number): number {
  const n = Math.max(256, Math.ceil(bytes / 16) * 16);
  const p = 2 ** Math.floor(Math.log2(n));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const s = Math.ceil((p * f) / 16) * 16;
    if (s >= n) return s;
  }
  return 2 * p;
}

export interface PoolStats {
  live: number;
  free: number;
  liveBytes: number;
  freeBytes: number;
  created: number;
  reused: number;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GPUBuffer>();
  private stats = { created: 0, reused: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize) {
      throw new RangeError(`buffer of ${bytes} bytes exceeds this device's maxBufferSize (${this.maxBufferSize})`);
    }
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) this.stats.reused++;
    else {
      buf = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
      this.stats.created++;
    }
    this.live.add(buf);
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (!this.live.delete(buf)) return; // double release is a no-op
    const list = this.free.get(buf.size);
    if (list) list.push(buf);
    else this.free.set(buf.size, [buf]);
  }

  /** Destroy pooled free buffers (keeps live ones). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
  }

  destroyAll(): void {
    this.trim();
    for (const b of this.live) b.destroy();
    this.live.clear();
  }

  get statistics(): PoolStats {
    let freeN = 0,
      freeBytes = 0,
      liveBytes = 0;
    for (const l of this.free.values())
      for (const b of l) {
        freeN++;
        freeBytes += b.size;
      }
    for (const b of this.live) liveBytes += b.size;
    return { live: this.live.size, free: freeN, liveBytes, freeBytes, ...this.stats };
  }
}
