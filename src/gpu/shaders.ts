/**
 * WGSL sources live in shaders/*.wgsl and are bundled into shaders.gen.ts by tools/gen-shaders.mjs.
 * A source is specialised with wgsl-preprocessor: `${NAME}` placeholders are filled from `defines`
 * (numbers, booleans for #if/#elif, or strings), so `#if ${RELU}` … `#endif` and `const TM = ${TM}u;` work.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { SHADERS } from './shaders.gen.ts';

export type Defines = Record<string, number | boolean | string>;

/** Shaders that do not ship with the package (bench/shaders: reference kernels the benchmarks compare against). */
const EXTRA = new Map<string, string>();

/** Make a shader that is not bundled available by name (benchmarks and tools; the library never calls it). */
export function registerShader(name: string, source: string): void {
  if (name in SHADERS) throw new Error(`shader '${name}' is bundled already`);
  EXTRA.set(name, source);
}

export function shaderSource(name: string, defines: Defines = {}): string {
  const src = SHADERS[name] ?? EXTRA.get(name);
  if (src === undefined) throw new Error(`unknown shader '${name}' (known: ${[...Object.keys(SHADERS), ...EXTRA.keys()].join(', ')})`);
  const strings: string[] = [];
  const values: (number | boolean | string)[] = [];
  const re = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    strings.push(src.slice(last, m.index));
    const key = m[1]!;
    if (!(key in defines)) throw new Error(`shader '${name}' needs define '${key}'`);
    values.push(defines[key]!);
    last = m.index + m[0].length;
  }
  strings.push(src.slice(last));
  const tsa = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return wgsl(tsa, ...values);
}

/** Stable cache key for a shader variant. */
export function variantKey(name: string, defines: Defines, entry = 'main'): string {
  const keys = Object.keys(defines).sort();
  return `${name}:${entry}:${keys.map((k) => `${k}=${defines[k]}`).join(',')}`;
}
