/**
 * CLI start-up: wall time of `webvcm --help` and `webvcm --version` (the compiled CLI, as an installed package runs
 * it), against a bare `node -e 0` start measured in the same run, plus the heaviest sub-command's own --help.
 * Budget: --help and --version under 300 ms (median). Needs `npm run build`. Run: npm run bench:startup [-- --runs N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = fileURLToPath(new URL('../bin/webvcm.js', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
const BUDGET_MS = 300;
if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(2);
}

function time(args) {
  const ms = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
    const t = performance.now() - t0;
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i > 0) ms.push(t); // the first run warms the file cache
  }
  ms.sort((a, b) => a - b);
  return { min: ms[0], median: ms[ms.length >> 1], max: ms[ms.length - 1] };
}

const cases = [
  ['node -e 0 (reference)', ['-e', '0']],
  ['webvcm --version', [bin, '--version']],
  ['webvcm --help', [bin, '--help']],
  ['webvcm encode --help', [bin, 'encode', '--help']],
];
console.log(`CLI start-up, ${RUNS} runs each (node ${process.version}, ${process.platform}/${process.arch})`);
console.log('| command | min ms | median ms | max ms | median − node ms |');
console.log('|---|---:|---:|---:|---:|');
let base = 0;
let ok = true;
for (const [name, args] of cases) {
  const r = time(args);
  if (!base) base = r.median;
  console.log(`| ${name} | ${r.min.toFixed(0)} | ${r.median.toFixed(0)} | ${r.max.toFixed(0)} | ${(r.median - base).toFixed(0)} |`);
  if ((name === 'webvcm --help' || name === 'webvcm --version') && r.median >= BUDGET_MS) ok = false;
}
console.log(ok ? `--help and --version: within the ${BUDGET_MS} ms budget` : `OVER the ${BUDGET_MS} ms budget`);
process.exitCode = ok ? 0 : 1;
