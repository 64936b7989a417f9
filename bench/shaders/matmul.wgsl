// Tiled matmul C[M][N] = A[M][K] · B[K][N] (row-major, vec4 along N), 64x64 tiles, 4x4 per invocation: the
// "same FLOPs, no im2col indexing" ceiling that bench/conv compares the conv kernel with.
struct Params { M: u32, N: u32, K: u32, _a: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

const TS: u32 = 64u;
const BK: u32 = 16u;
var<workgroup> As: array<f32, BK * TS>;          // [BK][TS]
var<workgroup> Bs: array<vec4<f32>, BK * 16u>;   // [BK][16]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * 16u + lid.x;
  let m0 = wg.y * TS;
  let n40 = wg.x * 16u;
  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var idx = tid; idx < BK * TS; idx += 256u) {
      let kk = idx % BK;
      let mm = idx / BK;
      var v = 0.0;
      if (m0 + mm < p.M && k0 + kk < p.K) { v = a[(m0 + mm) * p.K + k0 + kk]; }
      As[kk * TS + mm] = v;
    }
    for (var idx = tid; idx < BK * 16u; idx += 256u) {
      let n4 = idx % 16u;
      let kk = idx / 16u;
      var v = vec4<f32>(0.0);
      if (k0 + kk < p.K && n40 + n4 < p.N / 4u) { v = b[(k0 + kk) * (p.N / 4u) + n40 + n4]; }
      Bs[kk * 16u + n4] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let bv = Bs[kk * 16u + lid.x];
      for (var i = 0u; i < 4u; i++) { acc[i] = fma(vec4<f32>(As[kk * TS + lid.y * 4u + i]), bv, acc[i]); }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + lid.y * 4u + i;
    if (m < p.M && n40 + lid.x < p.N / 4u) { c[m * (p.N / 4u) + n40 + lid.x] = acc[i]; }
  }
}
