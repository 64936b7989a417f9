// Max pooling over an HWC tensor; padding counts as -inf (PyTorch semantics). One invocation per output element.
struct Params { H: u32, W: u32, C: u32, OH: u32, OW: u32, K: u32, S: u32, P: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.OH * p.OW * p.C) { return; }
  let c = i % p.C;
  let pix = i / p.C;
  let ox = pix % p.OW;
  let oy = pix / p.OW;
  var m = -3.4028234663852886e38;
  var any = false;
  for (var ky = 0u; ky < p.K; ky++) {
    let iy = i32(oy * p.S + ky) - i32(p.P);
    if (iy < 0 || iy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.K; kx++) {
      let ix = i32(ox * p.S + kx) - i32(p.P);
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      m = max(m, x[(u32(iy) * p.W + u32(ix)) * p.C + c]);
      any = true;
    }
  }
  y[i] = select(0.0, m, any);
}
