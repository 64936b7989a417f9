// Tiled implicit-GEMM 2-D convolution (and transposed convolution) over channels-last (HWC) tensors.
//   GEMM view: M = OH*OW output pixels, N = OC output channels, K = KH*KW*C (ordered ky, kx, ci).
//   Weights are pre-packed as [K][OCP] with OCP = OC rounded up to 4, read as vec4 along N.
//   Each workgroup computes a BM x BN tile: BM = WGY*TM pixels, BN = WGX*TN*4 channels. A thread owns TM pixels
//   (rows lid.y*TM ..) and TN vec4 columns (lid.x + j*WGX, so neighbouring invocations read neighbouring columns).
//   K is walked in BK steps through workgroup memory.
//   VEC_A: C % 4 == 0, so 4 consecutive k are 4 consecutive input channels (vec4 loads).
//   A-tile loaders (one of):
//     LOAD_GENERIC: per element (pixel, k) decomposition with divisions; the only one that handles TRANSPOSED
//                   (gather form of ConvTranspose2d: input pixel (oy + PH - ky) / SH when that divides exactly).
//     LOAD_HOIST:   each invocation loads fixed slots (pixel, k-offset) of the tile on every K step, so the pixel
//                   origin is computed once and the (ky, kx, ci) of its k is advanced incrementally (no divisions
//                   inside the K loop). Any kernel, stride, padding.
//     LOAD_GEMM:    1x1, stride 1, no padding: a plain GEMM, A[m][k] = x[m*C + k] (no padding checks).
//   A4: the A tile is stored as vec4 over 4 consecutive pixels, so the inner loop reads TM/4 + TN vec4s from workgroup
//   memory per 4*TM*TN FMAs (on lavapipe those loads, not the FMAs, bound the loop; see selectConvVariant).
//   Epilogue: + bias, + residual (RESIDUAL), ReLU (RELU).
//   OUT_MAP: the GEMM's OH x OW pixel grid is written with stride/offset into a larger output of row width YW:
//   pixel (my, mx) goes to (OSY*my + OPY, OSX*mx + OPX) (residual read at the same place). The sub-pixel mode of the
//   stride-2 transposed convolution (ops/conv.ts) runs one ordinary stride-1 conv per output parity class this way.
//   GDN: the 1x1 mixing of GDN / inverse GDN (ops/gdn.ts; 1x1, stride 1, no padding, C == OC, LOAD_GEMM in practice):
//   every A operand is squared on its way into the tile (x^2; the weights are gamma [OC = i][C = j], the bias beta),
//   and the epilogue writes x * inverseSqrt(beta + acc) (uniform GI = 1: x * sqrt(beta + acc)) with x read at the output
//   position. acc sums gamma[i][j] * x_j^2 over j in order, beta is added after the full sum, as CompressAI's conv does.
//   F16: weights are stored as binary16 (w: vec4<f16>), the workgroup tiles hold f16 (TT), so every A operand is
//   rounded to f16 on its way into the tile; products and accumulation stay f32. Bias, residual and output are f32.
#if ${F16}
enable f16;
alias TT = f16;
#else
alias TT = f32;
#endif
struct Params {
  H: u32, W: u32, C: u32, OH: u32,
  OW: u32, OC: u32, KW: u32, SH: u32,
  SW: u32, PH: u32, PW: u32, K: u32,
  M: u32, OCP: u32, YW: u32, OSY: u32,
  OSX: u32, OPY: u32, OPX: u32, GI: u32,   // GI: GDN epilogue only, 1 = inverse GDN
};
@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC_A}
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
#if ${F16}
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
#else
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
#endif
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if ${RESIDUAL}
@group(0) @binding(5) var<storage, read> res: array<f32>;
#endif

const WGX: u32 = ${WGX}u;
const WGY: u32 = ${WGY}u;
const TM: u32 = ${TM}u;
const TN: u32 = ${TN}u;
const BK: u32 = ${BK}u;
const BM: u32 = WGY * TM;
const BN4: u32 = WGX * TN;     // tile width in vec4 columns
const NT: u32 = WGX * WGY;
#if ${VEC_A}
const KV: u32 = 4u;            // reductions per A element load
#else
const KV: u32 = 1u;
#endif
const BKA: u32 = BK / KV;      // A loads per pixel per K step
const LA: u32 = (BM * BKA + NT - 1u) / NT;   // A load slots per invocation
const LB: u32 = (BK * BN4 + NT - 1u) / NT;   // B load slots per invocation

var<workgroup> Bs: array<vec4<TT>, BK * BN4>;    // [BK][BN4]
#if ${GDN}
fn a_in(v: f32) -> f32 { return v * v; }
#else
fn a_in(v: f32) -> f32 { return v; }
#endif
#if ${A4}
// A tile [BK][BM] stored as vec4 over 4 consecutive pixels (TM % 4 == 0): the inner loop reads TM/4 vec4s.
var<workgroup> As: array<vec4<TT>, BM * BK / 4u>;
fn st_a(i: u32, v: f32) { As[i / 4u][i % 4u] = TT(a_in(v)); }
#else
var<workgroup> As: array<TT, BM * BK>;           // [BK][BM]
fn st_a(i: u32, v: f32) { As[i] = TT(a_in(v)); }
#endif

fn store_a(kk4: u32, mm: u32, v: vec4<f32>) {
  let base = kk4 * 4u * BM + mm;
  st_a(base, v.x); st_a(base + BM, v.y); st_a(base + 2u * BM, v.z); st_a(base + 3u * BM, v.w);
}

#if ${LOAD_GENERIC}
// Input offset (in scalars) of pixel m and reduction index k, or -1 when it falls in the padding.
fn a_offset(m: u32, k: u32) -> i32 {
  let oy = i32(m / p.OW);
  let ox = i32(m % p.OW);
  let ci = k % p.C;
  let t = k / p.C;
  let kx = i32(t % p.KW);
  let ky = i32(t / p.KW);
#if ${TRANSPOSED}
  let ty = oy + i32(p.PH) - ky;
  let tx = ox + i32(p.PW) - kx;
  if (ty < 0 || tx < 0) { return -1; }
  if ((u32(ty) % p.SH) != 0u || (u32(tx) % p.SW) != 0u) { return -1; }
  let iy = u32(ty) / p.SH;
  let ix = u32(tx) / p.SW;
  if (iy >= p.H || ix >= p.W) { return -1; }
  return i32((iy * p.W + ix) * p.C + ci);
#else
  let iy = oy * i32(p.SH) + ky - i32(p.PH);
  let ix = ox * i32(p.SW) + kx - i32(p.PW);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return -1; }
  return (iy * i32(p.W) + ix) * i32(p.C) + i32(ci);
#endif
}
#endif

@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * WGX + lid.x;
  let m0 = wg.y * BM;
  let n40 = wg.x * BN4;
  var acc: array<vec4<f32>, TM * TN>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = vec4<f32>(0.0); }

#if ${LOAD_HOIST}
  // Per slot: input pixel origin (iy0, ix0), validity of the pixel, and the incremental (ky, kx, ci) of its k.
  var s_iy0: array<i32, LA>;
  var s_ix0: array<i32, LA>;
  var s_ok: array<bool, LA>;
  var s_ci: array<u32, LA>;
  var s_kx: array<u32, LA>;
  var s_ky: array<u32, LA>;
  for (var s = 0u; s < LA; s++) {
    let idx = tid + s * NT;
    let mm = idx / BKA;
    let m = m0 + mm;
    s_ok[s] = idx < BM * BKA && m < p.M;
    let oy = m / p.OW;
    let ox = m - oy * p.OW;
    s_iy0[s] = i32(oy * p.SH) - i32(p.PH);
    s_ix0[s] = i32(ox * p.SW) - i32(p.PW);
    // k = (idx % BKA) * KV < BK: decompose once (one division per slot, outside the K loop)
    let k = (idx % BKA) * KV;
    let t = k / p.C;
    s_ci[s] = k - t * p.C;
    s_kx[s] = t % p.KW;
    s_ky[s] = t / p.KW;
  }
#endif
#if ${LOAD_GEMM}
  var s_base: array<u32, LA>;   // m*C + k (scalars) of the slot at k0 = 0
  var s_ok: array<bool, LA>;
  for (var s = 0u; s < LA; s++) {
    let idx = tid + s * NT;
    let m = m0 + idx / BKA;
    s_ok[s] = idx < BM * BKA && m < p.M;
    s_base[s] = m * p.C + (idx % BKA) * KV;
  }
#endif

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // ---- A tile: BM pixels x BK reductions
#if ${LOAD_GENERIC}
#if ${VEC_A}
    for (var idx = tid; idx < BM * BKA; idx += NT) {
      let kk4 = idx % BKA;
      let mm = idx / BKA;
      let m = m0 + mm;
      let k = k0 + kk4 * 4u;
      var v = vec4<f32>(0.0);
      if (m < p.M && k < p.K) {
        let off = a_offset(m, k);
        if (off >= 0) { v = x[u32(off) / 4u]; }
      }
      store_a(kk4, mm, v);
    }
#else
    for (var idx = tid; idx < BM * BK; idx += NT) {
      let kk = idx % BK;
      let mm = idx / BK;
      let m = m0 + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) {
        let off = a_offset(m, k);
        if (off >= 0) { v = x[u32(off)]; }
      }
      st_a(kk * BM + mm, v);
    }
#endif
#endif
#if ${LOAD_HOIST}
    for (var s = 0u; s < LA; s++) {
      let idx = tid + s * NT;
      if (idx < BM * BKA) {
        let kk = idx % BKA;
        let mm = idx / BKA;
        let iy = s_iy0[s] + i32(s_ky[s]);
        let ix = s_ix0[s] + i32(s_kx[s]);
        let inside = s_ok[s] && k0 + kk * KV < p.K && iy >= 0 && ix >= 0 && iy < i32(p.H) && ix < i32(p.W);
#if ${VEC_A}
        var v = vec4<f32>(0.0);
        if (inside) { v = x[((u32(iy) * p.W + u32(ix)) * p.C + s_ci[s]) / 4u]; }
        store_a(kk, mm, v);
#else
        var v = 0.0;
        if (inside) { v = x[(u32(iy) * p.W + u32(ix)) * p.C + s_ci[s]]; }
        st_a(kk * BM + mm, v);
#endif
        // advance this slot's k by BK: ci += BK, carrying into kx, ky (several carries when C < BK)
        var ci = s_ci[s] + BK;
        var kx = s_kx[s];
        var ky = s_ky[s];
        loop {
          if (ci < p.C) { break; }
          ci -= p.C;
          kx += 1u;
          if (kx == p.KW) { kx = 0u; ky += 1u; }
        }
        s_ci[s] = ci; s_kx[s] = kx; s_ky[s] = ky;
      }
    }
#endif
#if ${LOAD_GEMM}
    for (var s = 0u; s < LA; s++) {
      let idx = tid + s * NT;
      if (idx < BM * BKA) {
        let kk = idx % BKA;
        let mm = idx / BKA;
        let inside = s_ok[s] && k0 + kk * KV < p.K;
#if ${VEC_A}
        var v = vec4<f32>(0.0);
        if (inside) { v = x[(s_base[s] + k0) / 4u]; }
        store_a(kk, mm, v);
#else
        var v = 0.0;
        if (inside) { v = x[s_base[s] + k0]; }
        st_a(kk * BM + mm, v);
#endif
      }
    }
#endif
    // ---- B tile: BK reductions x BN4 vec4 columns
    for (var s = 0u; s < LB; s++) {
      let idx = tid + s * NT;
      if (idx < BK * BN4) {
        let n4 = idx % BN4;
        let kk = idx / BN4;
        let k = k0 + kk;
        let gn4 = n40 + n4;
        var v = vec4<TT>(0.0);
        if (k < p.K && gn4 < p.OCP / 4u) { v = vec4<TT>(w[k * (p.OCP / 4u) + gn4]); }
        Bs[kk * BN4 + n4] = v;
      }
    }
    workgroupBarrier();
    // Runtime trip count (the K tail is skipped): keeps the compiler from unrolling this loop; a BK-fold unrolled body of
    // TM*TN vec4 FMAs took lavapipe 10+ s to compile per variant and was not faster.
    let kend = min(BK, p.K - k0);
    for (var kk = 0u; kk < kend; kk++) {
      var b: array<vec4<f32>, TN>;
      for (var j = 0u; j < TN; j++) { b[j] = vec4<f32>(Bs[kk * BN4 + lid.x + j * WGX]); }
#if ${A4}
      let arow4 = (kk * BM + lid.y * TM) / 4u;
      for (var i4 = 0u; i4 < TM / 4u; i4++) {
        let a4 = vec4<f32>(As[arow4 + i4]);
        for (var c = 0u; c < 4u; c++) {
          let a = vec4<f32>(a4[c]);
          for (var j = 0u; j < TN; j++) { acc[(i4 * 4u + c) * TN + j] = fma(a, b[j], acc[(i4 * 4u + c) * TN + j]); }
        }
      }
#else
      let arow = kk * BM + lid.y * TM;
      for (var i = 0u; i < TM; i++) {
        let a = vec4<f32>(f32(As[arow + i]));
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a, b[j], acc[i * TN + j]); }
      }
#endif
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < TN; j++) {
    let n4 = n40 + lid.x + j * WGX;
    let n = n4 * 4u;
    if (n >= p.OC) { break; }
    let bv = bias[n4];
    for (var i = 0u; i < TM; i++) {
      let m = m0 + lid.y * TM + i;
      if (m >= p.M) { break; }
      let v = acc[i * TN + j] + bv;
#if ${OUT_MAP}
      let my = m / p.OW;
      let o = ((my * p.OSY + p.OPY) * p.YW + (m - my * p.OW) * p.OSX + p.OPX) * p.OC + n;
#else
      let o = m * p.OC + n;
#endif
      for (var c = 0u; c < 4u; c++) {
        if (n + c < p.OC) {
          var s = v[c];
#if ${RESIDUAL}
          s += res[o + c];
#endif
#if ${RELU}
          s = max(s, 0.0);
#endif
#if ${GDN}
#if ${VEC_A}
          let xi = x[o / 4u][c];   // o % 4 == 0: C == OC and C % 4 == 0
#else
          let xi = x[o + c];
#endif
          // forward / inverse by uniform (p.GI), not by define: an encoder and a decoder in one process share the
          // pipeline (a big-tile JIT costs lavapipe several seconds)
          if (p.GI != 0u) { s = xi * sqrt(s); } else { s = xi * inverseSqrt(s); }
#endif
          y[o + c] = s;
        }
      }
    }
  }
}
