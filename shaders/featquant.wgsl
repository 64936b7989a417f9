// The paper's 8-bit feature quantization over HWC float32 tensors.
//   MINMAX: per-workgroup partial min and max (grid-stride; exact, order-independent) -> part[2*wg], part[2*wg+1].
//   QUANT8: padded output o -> input pixel; q = clamp(round((x - mn) / scale), 0, 255) with a correctly rounded
//           float32 division (div_rn below), out = lut[q] (= f32(q / 255), computed on the host). Padding -> 0.
//   DEQMUL: cropped output o <- input pixel (y + top, x + left); out = clamp(xhat, 0, 1) * range.
//   DEQADD: out[o] = out[o] + mn (a separate dispatch, so the product is rounded before the sum: no FMA contraction).
struct Params {
  N: u32, C: u32, H: u32, W: u32,        // N = output elements; C, H, W of the input
  OH: u32, OW: u32, TOP: u32, LEFT: u32,
  a: f32, b: f32, _p0: u32, _p1: u32,    // QUANT8: a = mn, b = scale; DEQMUL: b = range; DEQADD: a = mn
};
@group(0) @binding(0) var<uniform> p: Params;
#if ${MINMAX}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
var<workgroup> smin: array<f32, 256>;
var<workgroup> smax: array<f32, 256>;
var<workgroup> sbad: atomic<u32>;   // bit pattern of a non-finite input (min/max may silently skip NaN)
#endif
#if ${QUANT8}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> lut: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif
#if ${DEQMUL}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif
#if ${DEQADD}
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
#endif

// Correctly rounded (round to nearest even) a / b for a >= 0, b > 0: long division of the 24-bit significands in
// u32 (remainder < 2^25), then RNE on the remainder. Zero, subnormal or non-finite operands, and results outside
// the normal range, fall back to the hardware division (never the case for |t| in [2^-126, 2^127]).
fn div_rn(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let ea = i32((ua >> 23u) & 0xffu);
  let eb = i32((ub >> 23u) & 0xffu);
  if (ea == 0 || eb == 0 || ea == 255 || eb == 255 || (ua >> 31u) != 0u || (ub >> 31u) != 0u) { return a / b; }
  var ma = (ua & 0x7fffffu) | 0x800000u;
  let mb = (ub & 0x7fffffu) | 0x800000u;
  var e = ea - eb;
  if (ma < mb) { ma = ma << 1u; e = e - 1; }
  var rem = ma - mb;
  var q = 1u;
  for (var i = 0u; i < 23u; i++) {
    rem = rem << 1u;
    q = q << 1u;
    if (rem >= mb) { rem = rem - mb; q = q | 1u; }
  }
  let twice = rem << 1u;
  if (twice > mb || (twice == mb && (q & 1u) == 1u)) { q = q + 1u; }
  if (q == 0x1000000u) { q = 0x800000u; e = e + 1; }
  let be = e + 127;
  if (be < 1 || be > 254) { return a / b; }
  return bitcast<f32>((u32(be) << 23u) | (q & 0x7fffffu));
}

#if ${MINMAX}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var mn = x[0];   // every element is a valid neutral start for min/max
  var mx = mn;
  let stride = nwg.x * 256u;
  var bad = 0u;
  for (var i = wid.x * 256u + lid.x; i < p.N; i += stride) {
    let v = x[i];
    let bits = bitcast<u32>(v);
    if ((bits & 0x7f800000u) == 0x7f800000u) { bad = bits; }
    mn = min(mn, v);
    mx = max(mx, v);
  }
  if (bad != 0u) { atomicMax(&sbad, bad); }
  smin[lid.x] = mn;
  smax[lid.x] = mx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) {
      smin[lid.x] = min(smin[lid.x], smin[lid.x + s]);
      smax[lid.x] = max(smax[lid.x], smax[lid.x + s]);
    }
    workgroupBarrier();
  }
  let b = atomicLoad(&sbad);
  if (lid.x == 0u) {
    // A non-finite input is reported as min = max = that value (NaN or ±inf), so the host rejects it.
    part[2u * wid.x] = select(smin[0], bitcast<f32>(b), b != 0u);
    part[2u * wid.x + 1u] = select(smax[0], bitcast<f32>(b), b != 0u);
  }
}
#else
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * 64u;
  if (o >= p.N) { return; }
#if ${DEQADD}
  out[o] = out[o] + p.a;
#else
  let c = o % p.C;
  let pix = o / p.C;
  let oy = pix / p.OW;
  let ox = pix % p.OW;
#if ${QUANT8}
  let iy = i32(oy) - i32(p.TOP);
  let ix = i32(ox) - i32(p.LEFT);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { out[o] = 0.0; return; }
  let v = x[(u32(iy) * p.W + u32(ix)) * p.C + c];
  let t = div_rn(v - p.a, p.b);
  let q = u32(clamp(round(t), 0.0, 255.0));
  out[o] = lut[q];
#endif
#if ${DEQMUL}
  let v = x[((oy + p.TOP) * p.W + ox + p.LEFT) * p.C + c];
  out[o] = clamp(v, 0.0, 1.0) * p.b;
#endif
#endif
}
#endif
