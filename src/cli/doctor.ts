import type { Command } from 'commander';
import { createRuntime } from '../api/runtime.ts';
import type { GpuContext } from '../gpu/context.ts';
import { GpuUnavailableError } from '../gpu/errors.ts';
import { convSelfTest } from '../gpu/selftest.ts';
import type { AdapterChoice } from '../gpu/device.ts';

const LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
] as const;

export function register(program: Command): void {
  program
    .command('doctor')
    .description('report the WebGPU adapter, its features and limits, and run a conv self-test against the CPU reference')
    .option('--json', 'machine-readable output')
    .option('--adapter <name>', 'auto | lavapipe | swiftshader | system (default: $WEBVCM_ADAPTER or auto)')
    .action(async (opts: { json?: boolean; adapter?: AdapterChoice }) => {
      let ctx: GpuContext;
      try {
        ctx = (await createRuntime({ adapter: opts.adapter })).ctx;
      } catch (e) {
        const fix = e instanceof GpuUnavailableError ? e.fix : 'npm run setup';
        if (opts.json) process.stdout.write(JSON.stringify({ adapter: null, error: (e as Error).message, fix }, null, 2) + '\n');
        else process.stderr.write(`webvcm doctor: no usable WebGPU adapter.\n  ${(e as Error).message.split('\n')[0]}\n  fix: ${fix}\n`);
        process.exitCode = 2;
        return;
      }
      try {
        const limits = Object.fromEntries(LIMITS.map((k) => [k, (ctx.limits as unknown as Record<string, number>)[k]]));
        const selfTest = await convSelfTest(ctx);
        const report = { adapter: ctx.info, features: ctx.features, limits, selfTest };
        if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else {
          const i = ctx.info;
          const lines = [
            `adapter   ${i.description || i.device} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'})${i.isFallbackAdapter ? ' [fallback/software]' : ''}`,
            `backend   ${i.backend}${i.icd ? `  (Vulkan ICD ${i.icd})` : ''}`,
            `features  ${ctx.features.join(', ') || '(none of shader-f16, timestamp-query, subgroups)'}`,
            ...Object.entries(limits).map(([k, v]) => `  ${k.padEnd(34)} ${v}`),
            `self-test ${selfTest.ok ? 'PASS' : 'FAIL'}  conv ${selfTest.shape}: max |gpu - cpu| = ${selfTest.maxAbsErr.toExponential(2)} (tol ${selfTest.tolerance}), ${selfTest.ms.toFixed(0)} ms`,
          ];
          process.stdout.write(lines.join('\n') + '\n');
        }
        if (!selfTest.ok) process.exitCode = 3;
      } finally {
        ctx.dispose();
      }
    });
}
