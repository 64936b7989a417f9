// Stride-2 transposed convolution (CompressAI deconv: k odd or even, padding PAD, output_padding) as four sub-pixel
// GEMMs, one per output parity class (PY, PX): output pixel (2*my + PY, 2*mx + PX) only receives taps ky = RY + 2*ty,
// kx = RX + 2*tx (RY = (PY + PAD) % 2), from input pixel ((oy + PAD - ky) / 2, (ox + PAD - kx) / 2). Compared with the
// gather form over all K*K taps this skips the ~3/4 of taps that never contribute. Tiling, vec4 loads and epilogue
// (bias, ReLU) as in conv2d.wgsl; weights pre-packed per class as [(ty, tx, ci)][OCP].
struct Params {
  H: u32, W: u32, C: u32, OH: u32,
  OW: u32, OC: u32, NTX: u32, PAD: u32,
  RY: u32, RX: u32, K: u32, M: u32,
  OCP: u32, OWC: u32, PY: u32, PX: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
#if ${VEC_A}
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const WGX: u32 = ${WGX}u;
const WGY: u32 = ${WGY}u;
const TM: u32 = ${TM}u;
const BK: u32 = ${BK}u;
const BM: u32 = WGY * TM;
const BN4: u32 = WGX;
const NT: u32 = WGX * WGY;

var<workgroup> As: array<f32, BM * BK>;
var<workgroup> Bs: array<vec4<f32>, BK * BN4>;

fn out_pixel(m: u32) -> u32 {
  let oy = 2u * (m / p.OWC) + p.PY;
  let ox = 2u * (m % p.OWC) + p.PX;
  return oy * p.OW + ox;
}

fn a_offset(m: u32, k: u32) -> i32 {
  let oy = i32(2u * (m / p.OWC) + p.PY);
  let ox = i32(2u * (m % p.OWC) + p.PX);
  let ci = k % p.C;
  let t = k / p.C;
  let ky = i32(p.RY + 2u * (t / p.NTX));
  let kx = i32(p.RX + 2u * (t % p.NTX));
  let ty = oy + i32(p.PAD) - ky;
  let tx = ox + i32(p.PAD) - kx;
  if (ty < 0 || tx < 0) { return -1; }
  let iy = u32(ty) / 2u;
  let ix = u32(tx) / 2u;
  if (iy >= p.H || ix >= p.W) { return -1; }
  return i32((iy * p.W + ix) * p.C + ci);
}

@compute @workgroup_size(WGX, WGY, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * WGX + lid.x;
  let m0 = wg.y * BM;
  let n40 = wg.x * BN4;
  var acc: array<vec4<f32>, TM>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4<f32>(0.0); }

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // ---- A tile: BM pixels x BK reductions
#if ${VEC_A}
    for (var idx = tid; idx < BM * (BK / 4u); idx += NT) {
      let kk4 = idx % (BK / 4u);
      let mm = idx / (BK / 4u);
      let m = m0 + mm;
      let k = k0 + kk4 * 4u;
      var v = vec4<f32>(0.0);
      if (m < p.M && k < p.K) {
        let off = a_offset(m, k);
        if (off >= 0) { v = x[u32(off) / 4u]; }
      }
      let base = kk4 * 4u * BM + mm;
      As[base] = v.x; As[base + BM] = v.y; As[base + 2u * BM] = v.z; As[base + 3u * BM] = v.w;
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
      As[kk * BM + mm] = v;
    }
#endif
    // ---- B tile: BK reductions x BN4 vec4 columns
    for (var idx = tid; idx < BK * BN4; idx += NT) {
      let n4 = idx % BN4;
      let kk = idx / BN4;
      let k = k0 + kk;
      let gn4 = n40 + n4;
      var v = vec4<f32>(0.0);
      if (k < p.K && gn4 < p.OCP / 4u) { v = w[k * (p.OCP / 4u) + gn4]; }
      Bs[kk * BN4 + n4] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let b = Bs[kk * BN4 + lid.x];
      let arow = kk * BM + lid.y * TM;
      for (var i = 0u; i < TM; i++) {
        acc[i] = fma(vec4<f32>(As[arow + i]), b, acc[i]);
      }
    }
    workgroupBarrier();
  }

  let n = (n40 + lid.x) * 4u;
  if (n >= p.OC) { return; }
  let bv = bias[n40 + lid.x];
  for (var i = 0u; i < TM; i++) {
    let m = m0 + lid.y * TM + i;
    if (m >= p.M) { break; }
    var v = acc[i] + bv;
    let o = out_pixel(m) * p.OC + n;
    for (var j = 0u; j < 4u; j++) {
      if (n + j < p.OC) {
        var s = v[j];
#if ${RELU}
        s = max(s, 0.0);
#endif
        y[o + j] = s;
      }
    }
  }
}
