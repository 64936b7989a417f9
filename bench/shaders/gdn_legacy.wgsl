// Bench reference only (bench/lib/layers.ts timeGdnVsConv): the GDN kernel the codec used before GDN moved onto the
// conv core (ops/gdn.ts). One output channel per lane, scalar accumulators, strided gamma reads. Not used by src/.
// GDN / inverse GDN with the 1x1 mixing fused, over an HWC feature map x[P][C]:
//   norm[p][i] = beta[i] + sum_j gamma[i][j] * x[p][j]^2   (gamma row = output channel, as CompressAI's conv weight)
//   GDN: y = x * inverseSqrt(norm);  IGDN (INVERSE): y = x * sqrt(norm).
// Workgroup: 64 output channels x TP pixels; x^2 of the TP pixels is staged through workgroup memory in chunks of 64
// channels. Dispatch: [ceil(C / 64), ceil(P / TP)].
struct Params { P: u32, C: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const TP: u32 = ${TP}u;
var<workgroup> xs: array<f32, TP * 64u>;   // [TP][64]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wid.x * 64u + lid.x;        // output channel of this thread
  let p0 = wid.y * TP;                // first pixel of the tile
  var acc: array<f32, TP>;
  for (var t = 0u; t < TP; t++) { acc[t] = 0.0; }
  for (var j0 = 0u; j0 < p.C; j0 += 64u) {
    for (var t = 0u; t < TP; t++) {
      let j = j0 + lid.x;
      var v = 0.0;
      if (p0 + t < p.P && j < p.C) { v = x[(p0 + t) * p.C + j]; }
      xs[t * 64u + lid.x] = v * v;
    }
    workgroupBarrier();
    if (i < p.C) {
      let jn = min(64u, p.C - j0);
      for (var j = 0u; j < jn; j++) {
        let g = gamma[i * p.C + j0 + j];
        for (var t = 0u; t < TP; t++) { acc[t] += g * xs[t * 64u + j]; }
      }
    }
    workgroupBarrier();
  }
  if (i >= p.C) { return; }
  let b = beta[i];
  for (var t = 0u; t < TP; t++) {
    let px = p0 + t;
    if (px >= p.P) { break; }
    let norm = b + acc[t];
    let v = x[px * p.C + i];
#if ${INVERSE}
    y[px * p.C + i] = v * sqrt(norm);
#else
    y[px * p.C + i] = v * inverseSqrt(norm);
#endif
  }
}
