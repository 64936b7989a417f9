// Naive direct convolution (one invocation per output element, no tiling): the baseline of bench/conv.
struct Params { H: u32, W: u32, C: u32, OH: u32, OW: u32, OC: u32, KH: u32, KW: u32, S: u32, P: u32, _a: u32, _b: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;     // HWC
@group(0) @binding(2) var<storage, read> w: array<f32>;     // [OC][KH][KW][C]
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // HWC

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.OH * p.OW * p.OC) { return; }
  let oc = i % p.OC;
  let pix = i / p.OC;
  let ox = pix % p.OW;
  let oy = pix / p.OW;
  var acc = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    let iy = i32(oy * p.S + ky) - i32(p.P);
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let ix = i32(ox * p.S + kx) - i32(p.P);
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let xb = (u32(iy) * p.W + u32(ix)) * p.C;
      let wb = ((oc * p.KH + ky) * p.KW + kx) * p.C;
      for (var c = 0u; c < p.C; c++) { acc += x[xb + c] * w[wb + c]; }
    }
  }
  y[i] = acc;
}
