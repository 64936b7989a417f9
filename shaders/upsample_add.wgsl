// FPN top-down step over HWC tensors: y[c, y, x] = lateral[c, y, x] + coarse[c, y / 2, x / 2] (nearest 2x upsample
// of the coarser map, then add; PyTorch F.interpolate(scale_factor=2, mode="nearest") + sum). One invocation per
// output element.
struct Params { H: u32, W: u32, C: u32, h: u32, w: u32, _p0: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> lateral: array<f32>;
@group(0) @binding(2) var<storage, read> coarse: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.H * p.W * p.C) { return; }
  let c = i % p.C;
  let pix = i / p.C;
  let ox = pix % p.W;
  let oy = pix / p.W;
  y[i] = lateral[i] + coarse[((oy / 2u) * p.w + (ox / 2u)) * p.C + c];
}
