// Pillow's 8-bit BILINEAR resize (libImaging/Resample.c), one separable pass per dispatch, in integer arithmetic:
//   out = clip8((1 << 21) + Σ_k src[k] · coeff[k])   with 22-bit fixed-point coefficients from pillowCoeffs (CPU),
// so the result is bit-exact with the CPU port (src/model/detector/preprocess.ts). The horizontal pass runs first on
// the rows the vertical pass needs and writes one u32 per value (HWC, 3 channels); the vertical pass reads that (or,
// when the width does not change, the source pixels directly) and either stores u8 values (U8_OUT) or fuses
// Detectron2's normalisation and padding: f32(v) − mean[c] inside, 0.0 in the bottom/right padding, [3, Hp, Wp] HWC.
// Packed sources are bytes in u32 words (little-endian): BGR 3 bytes/pixel, or RGBA/BGRA texels from a texture copy
// (4 bytes/pixel, rows `stride` bytes apart); c0..c2 give the byte offsets of B, G, R inside a pixel.
struct Params {
  inH: u32, inW: u32, outH: u32, outW: u32,      // pass input (rows already offset) and output extent
  ksize: u32, rowOff: u32, stride: u32, bpp: u32, // taps per output, first source row, packed row bytes, bytes/pixel
  c0: u32, c1: u32, c2: u32, Hp: u32,
  Wp: u32, m0: f32, m1: f32, m2: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> coef: array<i32>;   // bounds[2·out] (min, count) then kk[out·ksize]
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<${OUT_T}>;

const HALF: i32 = 2097152; // 1 << 21
const MAXV: i32 = 1073741824; // 256 << 22

fn clip8(s: i32) -> u32 {
  if (s >= MAXV) { return 255u; }
  if (s <= 0) { return 0u; }
  return u32(s >> 22u);
}

// Source value at (row, col, channel c in BGR order).
fn fetch(row: u32, col: u32, c: u32) -> i32 {
#if ${PACKED}
  var off = p.c0;
  if (c == 1u) { off = p.c1; } else if (c == 2u) { off = p.c2; }
  let b = row * p.stride + col * p.bpp + off;
  return i32((src[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu);
#else
  return i32(src[(row * p.inW + col) * 3u + c]);
#endif
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
#if ${HORIZ}
  if (i >= p.outH * p.outW * 3u) { return; }
  let c = i % 3u;
  let xx = (i / 3u) % p.outW;
  let yy = i / (3u * p.outW);
  let xmin = u32(coef[2u * xx]);
  let n = u32(coef[2u * xx + 1u]);
  let kb = 2u * p.outW + xx * p.ksize;
  var s = HALF;
  for (var k = 0u; k < n; k++) { s += fetch(yy + p.rowOff, xmin + k, c) * coef[kb + k]; }
  dst[i] = clip8(s);
#else
#if ${U8_OUT}
  if (i >= p.outH * p.outW * 3u) { return; }
  let c = i % 3u;
  let xx = (i / 3u) % p.outW;
  let yy = i / (3u * p.outW);
#else
  if (i >= p.Hp * p.Wp * 3u) { return; }
  let c = i % 3u;
  let xx = (i / 3u) % p.Wp;
  let yy = i / (3u * p.Wp);
  if (xx >= p.outW || yy >= p.outH) { dst[i] = 0.0; return; }
#endif
  let ymin = u32(coef[2u * yy]);
  let n = u32(coef[2u * yy + 1u]);
  let kb = 2u * p.outH + yy * p.ksize;
  var s = HALF;
  for (var k = 0u; k < n; k++) { s += fetch(ymin + k, xx, c) * coef[kb + k]; }
#if ${U8_OUT}
  dst[i] = clip8(s);
#else
  var m = p.m0;
  if (c == 1u) { m = p.m1; } else if (c == 2u) { m = p.m2; }
  dst[i] = f32(clip8(s)) - m;
#endif
#endif
}
