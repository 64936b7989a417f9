// Element-wise ops over flat f32 arrays (layout-agnostic). OP: 0 = a + b, 1 = relu(a + b), 2 = relu(a), 3 = abs(a).
struct Params { N: u32, _p0: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
#if ${BINARY}
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
#if ${BINARY}
  var v = a[i] + b[i];
#else
  var v = a[i];
#endif
#if ${RELU}
  v = max(v, 0.0);
#endif
#if ${ABS}
  v = abs(v);
#endif
  y[i] = v;
}
