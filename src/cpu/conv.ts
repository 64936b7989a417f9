/**
 * Plain TypeScript references (NCHW, batch 1): the ground truth for the GPU kernels and the seed of a CPU backend.
 * Accumulation order is the natural one in float64 → rounded to float32 at the end, i.e. at least as accurate as
 * any float32 GPU order.
 */
export interface Chw {
  data: Float32Array;
  c: number;
  h: number;
  w: number;
}

export function conv2dRef(
  x: Chw,
  weight: Float32Array,
  wshape: readonly number[],
  bias: Float32Array | null,
  opts: { stride?: number; pad?: number; relu?: boolean; residual?: Float32Array } = {},
): Chw {
  const [OC, C, KH, KW] = wshape as [number, number, number, number];
  const s = opts.stride ?? 1,
    p = opts.pad ?? 0;
  const OH = Math.floor((x.h + 2 * p - KH) / s) + 1,
    OW = Math.floor((x.w + 2 * p - KW) / s) + 1;
  const out = new Float32Array(OC * OH * OW);
  for (let oc = 0; oc < OC; oc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let acc = bias ? bias[oc]! : 0;
        for (let ci = 0; ci < C; ci++)
          for (let ky = 0; ky < KH; ky++) {
            const iy = oy * s + ky - p;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ix = ox * s + kx - p;
              if (ix < 0 || ix >= x.w) continue;
              acc += x.data[(ci * x.h + iy) * x.w + ix]! * weight[((oc * C + ci) * KH + ky) * KW + kx]!;
            }
          }
        const o = (oc * OH + oy) * OW + ox;
        if (opts.residual) acc += opts.residual[o]!;
        out[o] = opts.relu ? Math.max(acc, 0) : acc;
      }
  return { data: out, c: OC, h: OH, w: OW };
}

/** ConvTranspose2d, weight [C, OC, KH, KW] (PyTorch layout), scatter form. */
export function convTranspose2dRef(
  x: Chw,
  weight: Float32Array,
  wshape: readonly number[],
  bias: Float32Array | null,
  opts: { stride: number; pad: number; outputPadding: number },
): Chw {
  const [C, OC, KH, KW] = wshape as [number, number, number, number];
  const { stride: s, pad: p, outputPadding: op } = opts;
  const OH = (x.h - 1) * s - 2 * p + KH + op,
    OW = (x.w - 1) * s - 2 * p + KW + op;
  const acc = new Float64Array(OC * OH * OW);
  for (let oc = 0; oc < OC; oc++) if (bias) acc.fill(bias[oc]!, oc * OH * OW, (oc + 1) * OH * OW);
  for (let ci = 0; ci < C; ci++)
    for (let iy = 0; iy < x.h; iy++)
      for (let ix = 0; ix < x.w; ix++) {
        const v = x.data[(ci * x.h + iy) * x.w + ix]!;
        if (v === 0) continue;
        for (let oc = 0; oc < OC; oc++)
          for (let ky = 0; ky < KH; ky++) {
            const oy = iy * s - p + ky;
            if (oy < 0 || oy >= OH) continue;
            for (let kx = 0; kx < KW; kx++) {
              const ox = ix * s - p + kx;
              if (ox < 0 || ox >= OW) continue;
              acc[(oc * OH + oy) * OW + ox] += v * weight[((ci * OC + oc) * KH + ky) * KW + kx]!;
            }
          }
      }
  return { data: Float32Array.from(acc), c: OC, h: OH, w: OW };
}

export function maxPool2dRef(x: Chw, k: number, s: number, p: number): Chw {
  const OH = Math.floor((x.h + 2 * p - k) / s) + 1,
    OW = Math.floor((x.w + 2 * p - k) / s) + 1;
  const out = new Float32Array(x.c * OH * OW);
  for (let c = 0; c < x.c; c++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let m = -Infinity;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s + ky - p;
          if (iy < 0 || iy >= x.h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s + kx - p;
            if (ix < 0 || ix >= x.w) continue;
            m = Math.max(m, x.data[(c * x.h + iy) * x.w + ix]!);
          }
        }
        out[(c * OH + oy) * OW + ox] = m;
      }
  return { data: out, c: x.c, h: OH, w: OW };
}
