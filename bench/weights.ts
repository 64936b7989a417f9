// Load time and peak memory of the weight loader on a full-size R50-FPN checkpoint.
//   python3 tools/make-fake-r50.py          # writes .cache/fake_r50_fpn.pkl (170 MB, protocol 4)
//   npx tsx bench/weights.ts [file.pkl]     # also converts to .cache/fake_r50_fpn.safetensors and loads that
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { convertToSafetensors, loadDetectorWeights } from '../src/model/weights/index.ts';

const file = process.argv[2] ?? '.cache/fake_r50_fpn.pkl';
if (!existsSync(file)) {
  console.error(`${file} not found: run python3 tools/make-fake-r50.py first`);
  process.exit(1);
}
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
const mb = (b: number): string => (b / 2 ** 20).toFixed(0) + ' MiB';

async function run(label: string, path: string): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  peak = rss0;
  const t0 = performance.now();
  const w = await loadDetectorWeights(path);
  const ms = performance.now() - t0;
  peak = Math.max(peak, process.memoryUsage().rss);
  let values = 0;
  for (const t of w.tensors.values()) values += t.data.length;
  console.log(
    `${label.padEnd(12)} ${(ms / 1000).toFixed(2)} s  peak RSS ${mb(peak)} (+${mb(peak - rss0)} over ${mb(rss0)} before)  ` +
      `${w.tensors.size} tensors, ${values} values, file ${mb(readFileSync(path).length)}`,
  );
  if (label === 'pickle') {
    const st = convertToSafetensors(w, 'bench');
    writeFileSync(path.replace(/\.pkl$/, '.safetensors'), st);
  }
}

// each measurement in a fresh process so RSS is not polluted by the previous one
const only = process.env.WEBVCM_BENCH_ONLY;
if (only) {
  await run(only, only === 'pickle' ? file : file.replace(/\.pkl$/, '.safetensors'));
} else {
  const { execFileSync } = await import('node:child_process');
  for (const mode of ['pickle', 'safetensors']) {
    execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, file], {
      stdio: 'inherit',
      env: { ...process.env, WEBVCM_BENCH_ONLY: mode },
    });
  }
}
clearInterval(timer);
