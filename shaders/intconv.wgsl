// Exact integer convolution / transposed convolution for the portable h_s path (HWC int32 tensors).
// acc = bias + sum a * w with |a|, |w| <= 32767: each product p (|p| < 2^30) is split into p >> 16 (arithmetic) and
// p & 0xFFFF, summed separately (no overflow for up to 65535 terms), then normalised: value = hi * 65536 + lo with
// 0 <= lo < 65536. Integer arithmetic is exact, so the result does not depend on the device or summation order.
// Weights packed as [(ky * K + kx) * C + ci][OC]. TRANSPOSED: gather form of ConvTranspose2d.
struct Params {
  H: u32, W: u32, C: u32, OH: u32,
  OW: u32, OC: u32, K: u32, S: u32,
  PAD: u32, N: u32, _p0: u32, _p1: u32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> w: array<i32>;
@group(0) @binding(3) var<storage, read> bhi: array<i32>;
@group(0) @binding(4) var<storage, read> blo: array<i32>;
@group(0) @binding(5) var<storage, read_write> ohi: array<i32>;
@group(0) @binding(6) var<storage, read_write> olo: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * 64u;
  if (o >= p.N) { return; }
  let oc = o % p.OC;
  let pix = o / p.OC;
  let oy = i32(pix / p.OW);
  let ox = i32(pix % p.OW);
  var hi = bhi[oc];
  var lo = blo[oc];
  for (var ky = 0u; ky < p.K; ky++) {
    for (var kx = 0u; kx < p.K; kx++) {
#if ${TRANSPOSED}
      let ty = oy + i32(p.PAD) - i32(ky);
      let tx = ox + i32(p.PAD) - i32(kx);
      if (ty < 0 || tx < 0) { continue; }
      if ((u32(ty) % p.S) != 0u || (u32(tx) % p.S) != 0u) { continue; }
      let iy = i32(u32(ty) / p.S);
      let ix = i32(u32(tx) / p.S);
#else
      let iy = oy * i32(p.S) + i32(ky) - i32(p.PAD);
      let ix = ox * i32(p.S) + i32(kx) - i32(p.PAD);
#endif
      if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { continue; }
      let abase = (u32(iy) * p.W + u32(ix)) * p.C;
      let wbase = (ky * p.K + kx) * p.C;
      for (var ci = 0u; ci < p.C; ci++) {
        let prod = a[abase + ci] * w[(wbase + ci) * p.OC + oc];
        hi += prod >> 16u;
        lo += prod & 0xFFFF;
      }
    }
  }
  hi += lo >> 16u;
  lo = lo & 0xFFFF;
  ohi[o] = hi;
  olo[o] = lo;
}
