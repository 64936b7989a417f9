// Child process of portable-cross.test.ts: computes the index-path results on the adapter chosen by the environment
// (WEBVCM_ADAPTER / VK_ICD_FILENAMES) and prints one JSON line.
import { GpuContext } from '../../src/gpu/context.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { indexCases, runCases } from './adversarial.ts';

async function main(): Promise<void> {
  const ctx = await GpuContext.create();
  const res = await runCases(new GpuCodecBackend(ctx), await indexCases());
  const results: Record<string, { portable: string; compat: string }> = {};
  for (const [k, v] of Object.entries(res)) results[k] = { portable: v.portable, compat: v.compat };
  process.stdout.write(`RESULT ${JSON.stringify({ adapter: ctx.info.description, results })}\n`);
  ctx.dispose();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
