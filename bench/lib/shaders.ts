/**
 * The benchmarks' own reference kernels (bench/shaders/*.wgsl: a naive conv, a tiled matmul, the legacy GDN kernel).
 * They are not part of the package: importing this module registers them by name for ctx.pipeline().
 */
import { readdirSync, readFileSync } from 'node:fs';
import { registerShader } from '../../src/gpu/shaders.ts';

const dir = new URL('../shaders/', import.meta.url);
for (const f of readdirSync(dir)) {
  if (f.endsWith('.wgsl')) registerShader(f.slice(0, -5), readFileSync(new URL(f, dir), 'utf8'));
}
