#!/usr/bin/env node
// CLI entry: runs the TypeScript sources directly through tsx's ESM loader (no build step).
import { register } from 'tsx/esm/api';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'src/gpu/shaders.gen.ts'))) {
  execFileSync(process.execPath, [join(root, 'tools/gen-shaders.mjs')], { stdio: 'inherit' });
}
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
