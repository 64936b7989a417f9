/** GpuContext.plan / warm: pipelines learned without GPU work, compiled asynchronously, then reused by the real run. */
import { expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/context.ts';
import { warmupContext } from '../../src/gpu/backend.ts';
import { resizeNormalizeImage, uploadBgrImage } from '../../src/gpu/ops/resize.ts';
import { normalizeAndPad, pillowResizeBilinear } from '../../src/model/detector/preprocess.ts';
import { describeGpu, expectClose, rng } from '../helpers/gpu.ts';

const MEAN: [number, number, number] = [103.53, 116.28, 123.675];

describeGpu('warm-up: plan, compile asynchronously, prime', () => {
  it('plan records the variants without compiling or running anything; warm compiles them; the real run adds none', async () => {
    const ctx = await GpuContext.create();
    try {
      const r = rng(5);
      const img = new Uint8Array(21 * 34 * 3).map(() => Math.floor(r() * 256));
      const g = uploadBgrImage(ctx, img, 21, 34);
      const run = () => resizeNormalizeImage(ctx, g, [30, 17], [32, 32], MEAN);
      const before = ctx.pipelineCount;
      const specs = await ctx.plan(async () => {
        run().release();
        expect(Array.from(await ctx.read(g.data))).toEqual(new Array(g.data.size).fill(0));
      });
      expect(ctx.pipelineCount).toBe(before); // nothing compiled while planning
      expect(specs.map((s) => s.shader)).toEqual(['resize_pillow', 'resize_pillow']);
      expect(specs.every((s) => s.bindings?.length === 4 && s.bindings[0]!.kind === 'uniform' && s.bindings[3]!.kind === 'storage')).toBe(
        true,
      );
      const w = await ctx.warm(specs);
      expect(w).toMatchObject({ specs: 2, compiled: 2, primed: 2, failed: [] });
      expect(ctx.pipelineCount).toBe(before + 2);
      // the real run: no new pipelines, and the result is still bit-exact (priming left no trace)
      const y = run();
      const got = await ctx.readCHW(y);
      y.release();
      g.data.release();
      expect(ctx.pipelineCount).toBe(before + 2);
      expectClose(
        got,
        normalizeAndPad({ height: 30, width: 17, data: pillowResizeBilinear(img, 21, 34, 3, 30, 17) }, [32, 32], MEAN),
        0,
        0,
        'after warm-up',
      );
      // a second warm-up of the same work has nothing left to do
      const again = await warmupContext(ctx, async () => {
        const g2 = uploadBgrImage(ctx, img, 21, 34);
        resizeNormalizeImage(ctx, g2, [30, 17], [32, 32], MEAN).release();
        g2.data.release();
      });
      expect(again).toMatchObject({ planned: 0, compiled: 0 });
      await expect(ctx.plan(() => ctx.plan(() => 0))).rejects.toThrow(/re-entrant/);
    } finally {
      ctx.dispose();
    }
  });
});
