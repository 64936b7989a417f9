// The golden folder's location and presence, with no vitest import (test/setup/global.ts uses it). See golden.ts.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const GOLDEN_ROOT = process.env.WEBVCM_GOLDEN_DIR
  ? resolve(process.env.WEBVCM_GOLDEN_DIR)
  : resolve(process.cwd(), '../shared/golden');
export const HAVE_GOLDEN = existsSync(GOLDEN_ROOT);
export const IN_CI = /^(1|true)$/i.test(process.env.CI ?? '');

/** The one-line reason shown for skipped golden tests. */
export const GOLDEN_MISSING = `golden reference data not found at ${GOLDEN_ROOT} (../shared/golden: CompressAI/Detectron2/pycocotools outputs, kept outside the repository; see README "Tests")`;

export function goldenRequiredMessage(): string {
  return `CI=true requires the golden reference data, but ${GOLDEN_MISSING}`;
}
