/**
 * Where the golden reference data lives and what happens without it.
 *
 * ../shared/golden (next to the repository; override with WEBVCM_GOLDEN_DIR) holds outputs of the real CompressAI,
 * Detectron2 and pycocotools on seeded weights (about 110 MB, not part of the repository). Without it the
 * golden-parity tests are reported as skipped (one line in the run's header says why) and the small fixture set in
 * test/fixtures still checks the coder, the codec and the detector against references. With CI=true the folder
 * is required: test/setup/global.ts stops the run, and each golden suite fails, with a message naming the folder.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'vitest';
import { describeGpu } from './gpu.ts';
import { GOLDEN_MISSING, GOLDEN_ROOT, HAVE_GOLDEN, IN_CI, goldenRequiredMessage } from './golden-root.ts';

export { GOLDEN_MISSING, GOLDEN_ROOT, HAVE_GOLDEN, IN_CI, goldenRequiredMessage };

/**
 * describe() for suites that read ../shared/golden: skipped without it, a failing suite without it under CI. The
 * suite body is not run at all without the data (bodies may read golden files while collecting), so each such suite
 * shows as one skipped entry carrying the reason.
 */
export function describeGolden(name: string, fn: () => void): void {
  if (HAVE_GOLDEN) describe(name, fn);
  else if (IN_CI)
    describe(name, () =>
      it('needs ../shared/golden', () => {
        throw new Error(goldenRequiredMessage());
      }),
    );
  else describe(name, () => it.skip(`skipped: needs ../shared/golden (not found at ${GOLDEN_ROOT})`, () => {}));
}

/** it() for single golden tests inside otherwise standalone suites. */
export function itGolden(name: string, fn: () => unknown | Promise<unknown>, timeout?: number): void {
  if (HAVE_GOLDEN) it(name, fn, timeout);
  else if (IN_CI)
    it(name, () => {
      throw new Error(goldenRequiredMessage());
    });
  else it.skip(`${name} [skipped: needs ../shared/golden]`, fn);
}

/** Path inside the golden folder. */
export const goldenPath = (...parts: string[]): string => resolve(GOLDEN_ROOT, ...parts);

/** describeGpu() for suites that need both an adapter and ../shared/golden. */
export function describeGpuGolden(name: string, fn: () => void): void {
  if (HAVE_GOLDEN) describeGpu(name, fn);
  else describeGolden(name, fn);
}

/** The small parity set kept in the repository (tools/make-fixtures.ts); golden/… mirrors ../shared/golden paths. */
export const FIXTURES_ROOT = resolve(process.cwd(), 'test/fixtures');

/**
 * A golden file, or its byte copy in test/fixtures/golden when the golden folder is absent (the copies are checked
 * against the golden files by test/standalone/parity.test.ts whenever both are present).
 */
export function goldenOrFixture(rel: string): string {
  const copy = resolve(FIXTURES_ROOT, 'golden', rel);
  return HAVE_GOLDEN || !existsSync(copy) ? goldenPath(rel) : copy;
}
