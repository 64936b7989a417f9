import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { prepareConv, conv2d } from '../../src/gpu/ops/conv.ts';
import { relu } from '../../src/gpu/ops/eltwise.ts';
import { shaderSource, variantKey } from '../../src/gpu/shaders.ts';
import { SKIP_GPU, checked, describeGpu, gpuContext, randn, rng } from '../helpers/gpu.ts';

describeGpu('GPU runtime: pool, caches, batching, timestamps', () => {
  it('reuses pooled buffers after release and caches pipelines and uniforms by variant/content', async () => {
    const ctx = await gpuContext();
    await checked(ctx, 'pool', async () => {
      const before = ctx.pool.statistics;
      const a = ctx.upload(randn(rng(1), 1000), [1000]);
      const y1 = relu(ctx, a);
      y1.release();
      const y2 = relu(ctx, a); // same size bucket: must reuse y1's buffer
      const after = ctx.pool.statistics;
      expect(after.reused).toBeGreaterThan(before.reused);
      const pipes = ctx.pipelineCount;
      relu(ctx, a).release();
      expect(ctx.pipelineCount).toBe(pipes);
      expect(ctx.uniform([1000])).toBe(ctx.uniform([1000]));
      expect(ctx.uniform([1000])).not.toBe(ctx.uniform([1001]));
      const out = await ctx.read(y2);
      expect(out.length).toBe(1000);
      a.release();
      y2.release();
    });
  });

  it('batches many dispatches into few submissions and stays correct', async () => {
    const ctx = await gpuContext();
    const n = 257;
    const x = randn(rng(3), n);
    const got = await checked(ctx, 'batch', async () => {
      let t = ctx.upload(x, [n]);
      for (let i = 0; i < 150; i++) {
        const u = relu(ctx, t);
        t.release();
        t = u;
      } // > maxBatch: auto-flushes
      return ctx.read(t);
    });
    expect(Array.from(got)).toEqual(Array.from(x, (v) => Math.max(0, v)));
  });

  it('records per-label GPU timestamps when enabled (timestamp-query)', async () => {
    const base = await gpuContext();
    if (!base.features.includes('timestamp-query')) {
      expect(base.timestampsEnabled).toBe(false);
      return;
    }
    const { GpuContext } = await import('../../src/gpu/context.ts');
    const ctx = await GpuContext.create({ timestamps: true });
    try {
      expect(ctx.timestampsEnabled).toBe(true);
      const x = ctx.uploadCHW(randn(rng(5), 8 * 16 * 16), 8, 16, 16);
      const cw = prepareConv(ctx, randn(rng(6), 8 * 8 * 9), [8, 8, 3, 3], null);
      conv2d(ctx, x, cw, { pad: 1, label: 'conv-a' }).release();
      conv2d(ctx, x, cw, { pad: 1, label: 'conv-b' }).release();
      const t = await ctx.collectTimings();
      expect([...t.keys()].sort()).toEqual(['conv-a', 'conv-b']);
      for (const v of t.values()) expect(v).toBeGreaterThanOrEqual(0);
    } finally {
      ctx.dispose();
    }
  });

  it('dispose() frees everything and later use is a typed error', async () => {
    const { GpuContext } = await import('../../src/gpu/context.ts');
    const ctx = await GpuContext.create();
    ctx.upload(new Float32Array(16), [16]);
    ctx.dispose();
    expect(ctx.pool.statistics.live).toBe(0);
    expect(() => ctx.empty([4])).toThrow(/after dispose/);
  });
});

it('shader specialisation: placeholders filled, #if branches chosen, missing defines reported', () => {
  const src = shaderSource('eltwise', { BINARY: true, RELU: false, ABS: true });
  expect(src).toContain('var<storage, read> b');
  expect(src).toContain('abs(v)');
  expect(src).not.toContain('max(v, 0.0)');
  expect(() => shaderSource('eltwise', { BINARY: true })).toThrow(/needs define 'RELU'/);
  expect(() => shaderSource('nope')).toThrow(/unknown shader/);
  expect(variantKey('x', { B: 1, A: 2 })).toBe(variantKey('x', { A: 2, B: 1 }));
});

it('doctor exits non-zero with the fixing command when no adapter can be found', () => {
  const r = spawnSync(process.execPath, ['bin/webvcm.js', 'doctor', '--json'], {
    env: { ...process.env, WEBVCM_VK_ICD: '/nonexistent/icd.json', VK_ICD_FILENAMES: '' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status).toBe(2);
  const j = JSON.parse(r.stdout) as { adapter: null; fix: string };
  expect(j.adapter).toBeNull();
  expect(j.fix).toMatch(/npm run setup/);
});

it.skipIf(SKIP_GPU)('doctor --json reports a real adapter and a passing self-test', () => {
  const r = spawnSync(process.execPath, ['bin/webvcm.js', 'doctor', '--json'], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status).toBe(0);
  const j = JSON.parse(r.stdout) as { adapter: { description: string; vendor: string }; selfTest: { ok: boolean; maxAbsErr: number } };
  expect(j.adapter.vendor.length + j.adapter.description.length).toBeGreaterThan(0);
  expect(j.selfTest.ok).toBe(true);
});

describeGpu('GPU runtime: host uploads keep program order with recorded work', () => {
  it('an upload into a recycled buffer does not change what earlier recorded dispatches read', async () => {
    const ctx = await gpuContext();
    const n = 512;
    const a = randn(rng(11), n),
      b = randn(rng(12), n);
    const [ya, yb] = await checked(ctx, 'order', async () => {
      const ta = ctx.upload(a, [n]);
      const out1 = relu(ctx, ta); // recorded, not submitted
      ta.release(); // back to the pool while out1's dispatch still reads it
      const tb = ctx.upload(b, [n]); // same bucket: reuses ta's buffer
      const out2 = relu(ctx, tb);
      return [await ctx.read(out1), await ctx.read(out2)];
    });
    expect(Array.from(ya)).toEqual(Array.from(a, (v) => Math.max(0, v)));
    expect(Array.from(yb)).toEqual(Array.from(b, (v) => Math.max(0, v)));
  });
});

describeGpu('GPU runtime: device loss', () => {
  it('a lost (here: destroyed by its owner) device surfaces as GpuDeviceLostError on the next use', async () => {
    const { GpuContext } = await import('../../src/gpu/context.ts');
    const { GpuDeviceLostError } = await import('../../src/gpu/errors.ts');
    const owner = await GpuContext.create();
    const borrowed = await GpuContext.create({ device: owner.device });
    expect(borrowed.info.backend).toBe('external');
    owner.device.destroy();
    await owner.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect(() => borrowed.empty([4])).toThrow(GpuDeviceLostError);
    expect(() => borrowed.empty([4])).toThrow(/device lost \(destroyed\)/);
    borrowed.dispose();
    owner.dispose();
  });
});
