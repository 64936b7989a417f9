/**
 * Kernel uniform parameters by name. Each op declares its `struct Params` once, as an ordered record of WGSL field
 * names and types (`defineParams`); the op packs a uniform buffer from named values (`pack`), never from a positional
 * array, so a reordered, missing or extra field is a type error, not a silently wrong result. Fields whose name starts
 * with `_` are padding: not passed, written as 0. test/gpu/params.test.ts checks every declaration against the
 * `struct Params` blocks of its shader (the same names, types and order), so the WGSL and the packing cannot drift.
 */
export type ParamType = 'u32' | 'i32' | 'f32';
export type ParamFields = Readonly<Record<string, ParamType>>;

/** The values `pack` takes: every field of the declaration except the `_` padding, by name. */
export type ParamValues<F extends ParamFields> = { readonly [K in keyof F as K extends `_${string}` ? never : K]: number };

export interface ParamsLayout<F extends ParamFields = ParamFields> {
  /** The shader (shaders/<shader>.wgsl) whose `struct Params` this declares. */
  readonly shader: string;
  /** The fields in WGSL order. */
  readonly fields: F;
  /** The u32 words of the uniform buffer (f32 fields as their bit patterns), rounded up to 16 bytes. */
  pack(values: ParamValues<F>): Uint32Array;
}

const LAYOUTS: ParamsLayout[] = [];

/** Every declaration made so far (the check in test/gpu/params.test.ts imports the ops, then reads this). */
export function paramLayouts(): readonly ParamsLayout[] {
  return LAYOUTS;
}

export function defineParams<const F extends ParamFields>(shader: string, fields: F): ParamsLayout<F> {
  const names = Object.keys(fields);
  const words = Math.max(4, Math.ceil(names.length / 4) * 4);
  const layout: ParamsLayout<F> = {
    shader,
    fields,
    pack(values) {
      const u = new Uint32Array(words);
      const i32 = new Int32Array(u.buffer),
        f32 = new Float32Array(u.buffer);
      const v = values as Readonly<Record<string, number>>;
      names.forEach((name, i) => {
        if (name.startsWith('_')) return;
        const x = v[name];
        if (typeof x !== 'number') throw new TypeError(`${shader} params: '${name}' is missing`);
        const t = fields[name];
        if (t === 'f32') f32[i] = x;
        else if (t === 'i32') i32[i] = x;
        else u[i] = x;
      });
      return u;
    },
  };
  LAYOUTS.push(layout);
  return layout;
}
