// What a run without ../shared/golden does: skips the golden suites with the reason, or, under CI=true, fails with a
// message naming the folder. Runs vitest itself on one golden test file with the golden root pointed elsewhere.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const missing = join(mkdtempSync(join(tmpdir(), 'webvcm-nogolden-')), 'golden');
function vitest(ci: boolean) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VITEST') && k !== 'CI' && k !== 'NODE_ENV') env[k] = v;
  Object.assign(env, { WEBVCM_GOLDEN_DIR: missing, NO_COLOR: '1', ...(ci ? { CI: 'true' } : {}) });
  const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/coder/golden.test.ts'], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

it('without the golden folder: golden suites are skipped, with one line naming ../shared/golden', () => {
  const r = vitest(false);
  expect(r.status, r.out).toBe(0);
  expect(r.out).toContain(`golden reference data not found at ${missing} (../shared/golden`);
  // every test of that file is skipped; none passes or fails without its data
  expect(r.out).toMatch(/Tests\s+(\d+) skipped \(\1\)/);
});

it('with CI=true and no golden folder: the run fails with a clear message', () => {
  const r = vitest(true);
  expect(r.status, r.out).not.toBe(0);
  expect(r.out).toContain(`CI=true requires the golden reference data, but golden reference data not found at ${missing}`);
});
