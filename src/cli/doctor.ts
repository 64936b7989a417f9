import type { Command } from 'commander';
import { GpuContext } from '../gpu/context.ts';
import { GpuUnavailableError } from '../gpu/errors.ts';
import { convSelfTest } from '../gpu/selftest.ts';
import type { AdapterChoice } from '../gpu/device.ts';
import { decideBackend, parseBackend, type BackendChoice, type RuntimeRole } from '../api/backend-choice.ts';
import { wasmSelfTest, type WasmSelfTest } from '../wasm/selftest.ts';
import { BACKEND_HELP, backendArg } from './defaults.ts';

/** The backend `createEncoder` / `createDecoder` would take here, per role, and why (the wasm self-test included). */
async function backendReport(choice: BackendChoice, ctx: GpuContext | null, gpuError: string | undefined) {
  const wasm = await wasmSelfTest();
  const decide = (role: RuntimeRole) => {
    try {
      const d = decideBackend(choice, { adapter: ctx?.info ?? null, error: gpuError, node: true, role });
      return d.backend === 'wasm' && !wasm.ok ? { backend: null, reason: `${d.reason}, but the wasm self-test failed` } : { backend: d.backend, reason: d.reason };
    } catch (e) {
      return { backend: null, reason: (e as Error).message };
    }
  };
  return { choice, encoder: decide('encoder'), decoder: decide('decoder'), wasm };
}

function backendLines(b: { choice: BackendChoice; encoder: { backend: string | null; reason: string }; decoder: { backend: string | null; reason: string }; wasm: WasmSelfTest }): string[] {
  const w = b.wasm;
  return [
    `wasm      ${w.ok ? 'PASS' : 'FAIL'}  SIMD128 kernels, conv ${w.shape}: max |wasm - cpu| = ${w.maxAbsErr.toExponential(2)} (tol ${w.tolerance}), ${w.ms.toFixed(0)} ms${w.error ? ` (${w.error})` : ''}`,
    `backend   ${b.choice}: encoder -> ${b.encoder.backend ?? 'none'} (${b.encoder.reason})`,
    `          ${' '.repeat(b.choice.length)}  decoder -> ${b.decoder.backend ?? 'none'} (${b.decoder.reason})`,
  ];
}

const LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
] as const;

export function register(program: Command): void {
  program
    .command('doctor')
    .description('report the WebGPU adapter, its features and limits, the backend encode/decode would choose and why, and run conv self-tests (GPU and wasm) against the CPU reference')
    .option('--json', 'machine-readable output')
    .option('--adapter <name>', 'auto | lavapipe | swiftshader | system (default: $WEBVCM_ADAPTER or auto)')
    .option('--backend <b>', BACKEND_HELP, backendArg)
    .action(async (opts: { json?: boolean; adapter?: AdapterChoice; backend?: BackendChoice }) => {
      const choice = parseBackend(opts.backend);
      let ctx: GpuContext;
      try {
        ctx = await GpuContext.create({ adapter: opts.adapter });
      } catch (e) {
        const fix = e instanceof GpuUnavailableError ? e.fix : 'npm run setup';
        const backend = await backendReport(choice, null, (e as Error).message.split('\n')[0]);
        if (opts.json) process.stdout.write(JSON.stringify({ adapter: null, error: (e as Error).message, fix, backend }, null, 2) + '\n');
        else {
          process.stderr.write(`webvcm doctor: no usable WebGPU adapter.\n  ${(e as Error).message.split('\n')[0]}\n  fix: ${fix}\n`);
          process.stdout.write(backendLines(backend).join('\n') + '\n');
        }
        // usable without a GPU when the backend that would run is wasm and its self-test passes
        process.exitCode = backend.encoder.backend === 'wasm' && backend.decoder.backend === 'wasm' ? 0 : 2;
        return;
      }
      try {
        const limits = Object.fromEntries(LIMITS.map((k) => [k, (ctx.limits as unknown as Record<string, number>)[k]]));
        const selfTest = await convSelfTest(ctx);
        const backend = await backendReport(choice, ctx, undefined);
        const report = { adapter: ctx.info, features: ctx.features, limits, selfTest, backend };
        if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else {
          const i = ctx.info;
          const lines = [
            `adapter   ${i.description || i.device} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'})${i.isFallbackAdapter ? ' [fallback/software]' : ''}`,
            `backend   ${i.backend}${i.icd ? `  (Vulkan ICD ${i.icd})` : ''}`,
            `features  ${ctx.features.join(', ') || '(none of shader-f16, timestamp-query, subgroups)'}`,
            ...Object.entries(limits).map(([k, v]) => `  ${k.padEnd(34)} ${v}`),
            `self-test ${selfTest.ok ? 'PASS' : 'FAIL'}  conv ${selfTest.shape}: max |gpu - cpu| = ${selfTest.maxAbsErr.toExponential(2)} (tol ${selfTest.tolerance}), ${selfTest.ms.toFixed(0)} ms`,
            ...backendLines(backend),
          ];
          process.stdout.write(lines.join('\n') + '\n');
        }
        if (!selfTest.ok || !backend.wasm.ok) process.exitCode = 3;
      } finally {
        ctx.dispose();
      }
    });
}
