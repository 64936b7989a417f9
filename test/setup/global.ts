// vitest globalSetup: runs once per `vitest run`, before any test file.
//  1. Golden data: without ../shared/golden, print one line saying so (the golden suites then show as skipped);
//     with CI=true, stop the run right here with a message naming the folder.
//  2. dist/: the CLI tests spawn bin/webvcm.js, which runs the compiled CLI, and the consumer tests pack the package;
//     rebuild (`npm run build`, incremental) when any source is newer than the last build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GOLDEN_MISSING, HAVE_GOLDEN, IN_CI, goldenRequiredMessage } from '../helpers/golden-root.ts';

const root = resolve(import.meta.dirname, '../..');

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of readdirSync(path)) {
    if (e === 'shaders.gen.ts' || e === 'kernels.gen.ts') continue; // written by the build itself
    t = Math.max(t, newest(join(path, e)));
  }
  return t;
}

export function buildIsStale(): boolean {
  const stamp = resolve(root, 'dist/cli/commands.json');
  if (!existsSync(stamp)) return true;
  const inputs = ['src', 'shaders', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'tools/gen-shaders.mjs', 'tools/cli-manifest.mjs', 'wasm', 'tools/build-wasm.mjs'];
  return Math.max(...inputs.map((p) => newest(resolve(root, p)))) > statSync(stamp).mtimeMs;
}

export default function setup(): void {
  if (!HAVE_GOLDEN) {
    if (IN_CI) throw new Error(goldenRequiredMessage());
    console.log(`[webvcm] ${GOLDEN_MISSING}: golden-parity suites are reported as skipped; test/fixtures still checks the coder, the codec, the detector and COCO scoring.`);
  }
  if (buildIsStale()) {
    console.log('[webvcm] dist/ is older than the sources: npm run build');
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status})`);
  }
}
