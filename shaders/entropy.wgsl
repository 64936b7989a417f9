// GaussianConditional.build_indexes: s = max(scale, bound); index = (L - 1) - #{k < L - 1 : s <= table[k]},
// i.e. the smallest k with s <= table[k], or L - 1. Plain float32 comparisons (exact).
struct Params { N: u32, L: u32, bound: f32, _p0: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scales: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
  let s = max(scales[i], p.bound);
  var n = 0u;
  for (var k = 0u; k + 1u < p.L; k++) {
    if (s <= table[k]) { n++; }
  }
  idx[i] = i32(p.L - 1u - n);
}
