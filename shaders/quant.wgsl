// Entropy-model quantization over HWC tensors (channel = i % C):
//   QUANT:   sym[i] = i32(round(x[i] - mean[c]))   (WGSL round = round half to even = torch.round)
//   DEQUANT: y[i] = f32(sym[i]) + mean[c]
// HAS_MEAN = false: mean 0 (GaussianConditional without means).
struct Params { N: u32, C: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: Params;
#if ${QUANT}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
#else
@group(0) @binding(1) var<storage, read> x: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif
#if ${HAS_MEAN}
@group(0) @binding(3) var<storage, read> mean: array<f32>;
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
#if ${HAS_MEAN}
  let m = mean[i % p.C];
#else
  let m = 0.0;
#endif
#if ${QUANT}
  out[i] = i32(round(x[i] - m));
#else
  out[i] = f32(x[i]) + m;
#endif
}
