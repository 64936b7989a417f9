/**
 * Kernel uniform parameters by name (src/gpu/params.ts): every op's declaration equals a `struct Params` of its
 * shader (names, types, order, padding), every struct of a shipped shader is declared by some op, and no op packs a
 * uniform positionally. Pure: reads the sources, no GPU.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { paramLayouts, defineParams } from '../../src/gpu/params.ts';

// every op module: importing them runs their defineParams declarations
const ops = import.meta.glob('../../src/gpu/ops/*.ts', { eager: true });

/** The `struct Params { … }` blocks of a WGSL source, each as "name:type" strings in order (comments stripped). */
function structs(src: string): string[][] {
  const code = src.replace(/\/\/[^\n]*/g, '');
  return [...code.matchAll(/struct\s+Params\s*\{([^}]*)\}/g)].map((m) =>
    m[1]!
      .split(',')
      .map((f) => f.replace(/\s+/g, ''))
      .filter(Boolean),
  );
}

it('each declaration matches a struct Params of its shader, and each shipped struct Params is declared', () => {
  expect(Object.keys(ops).length).toBeGreaterThan(10);
  const layouts = paramLayouts();
  const shaders = readdirSync('shaders')
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => f.slice(0, -5));
  const declared = new Map<string, Set<string>>();
  for (const l of layouts) {
    expect(shaders, `declaration for an unknown shader '${l.shader}'`).toContain(l.shader);
    const fields = Object.entries(l.fields).map(([k, t]) => `${k}:${t}`);
    const inShader = structs(readFileSync(`shaders/${l.shader}.wgsl`, 'utf8')).map((s) => s.join(','));
    expect(inShader, `${l.shader}: no struct Params { ${fields.join(', ')} }`).toContain(fields.join(','));
    if (!declared.has(l.shader)) declared.set(l.shader, new Set());
    declared.get(l.shader)!.add(fields.join(','));
  }
  let n = 0;
  for (const s of shaders) {
    for (const st of structs(readFileSync(`shaders/${s}.wgsl`, 'utf8'))) {
      n++;
      expect(declared.get(s)?.has(st.join(',')), `shaders/${s}.wgsl: struct Params { ${st.join(', ')} } has no declaration`).toBe(true);
    }
  }
  expect(n).toBe(20); // the structs of the 16 shipped shaders (boxes has five)
});

it('no op or runtime code packs a uniform positionally', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
    );
  for (const f of files('src')) {
    const src = readFileSync(f, 'utf8');
    expect(src, `${f} builds a uniform from a positional array`).not.toMatch(/\.uniform\(\s*\[/);
    expect(src, `${f} builds uniform words by hand`).not.toMatch(/\.uniform\(\s*(new Uint32Array|Uint32Array\.from)/);
  }
});

it('pack writes named values in declaration order, f32 as bits, padding 0, rounded up to 16 bytes', () => {
  const P = defineParams('test-only', { a: 'u32', _p: 'u32', b: 'f32', c: 'i32', d: 'u32' });
  const u = P.pack({ a: 7, b: 0.5, c: -2, d: 3 });
  expect(u.length).toBe(8);
  expect(u[0]).toBe(7);
  expect(u[1]).toBe(0);
  expect(new Float32Array(u.buffer)[2]).toBe(0.5);
  expect(new Int32Array(u.buffer)[3]).toBe(-2);
  expect(u[4]).toBe(3);
  expect(Array.from(u.subarray(5))).toEqual([0, 0, 0]);
  expect(() => P.pack({ a: 1, b: 1, c: 1 } as never)).toThrow(/'d' is missing/);
});
