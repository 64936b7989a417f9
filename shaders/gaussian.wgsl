// Element-wise kernels of the mean-scale and variable-rate Gaussian conditionals (CompressAI's MeanScaleHyperprior and
// *Vbr models), over flat tensors of one shape and layout (one kernel per compile, chosen by a K_* flag; K_UNARY = K_LEAKY or K_SCALE):
//   K_LEAKY    y = x > 0 ? x : x·0.01                 (torch LeakyReLU, slope f32(0.01))
//   K_SCALE    y = x·g                                (one rounding; its own dispatch, so never fused)
//   K_QUANT    sym = i32(round(x − m))                (round half to even = torch.round)
//   K_DEQUANT  y = f32(sym) + m
//   K_VBR      q = f32(sym); off = −QuantABCD([max(s, bound), g]) (0 where |q| < 1e-4);
//              y = sign(q)·(|q| + off)·rescale (+ m when HAS_MEAN)
// The MLP (K_VBR) is packed as w0 [H×2], b0 [H], w1 [H×H], b1 [H], w2 [H], b2 [1] (weights [out, in] row-major).
struct Params { N: u32, H: u32, g: f32, rescale: f32, bound: f32, _p0: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> p: Params;
#if ${K_UNARY}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#elif ${K_QUANT}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> sym: array<i32>;
#elif ${K_DEQUANT}
@group(0) @binding(1) var<storage, read> sym: array<i32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
#else
@group(0) @binding(1) var<storage, read> sym: array<i32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read> mlp: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
#if ${HAS_MEAN}
@group(0) @binding(5) var<storage, read> m: array<f32>;
#endif
const MAX_H = 64u;

fn offset(sd: f32) -> f32 {
  let H = p.H;
  let b0 = 2u * H;
  let w1 = b0 + H;
  let b1 = w1 + H * H;
  let w2 = b1 + H;
  let b2 = w2 + H;
  var h0: array<f32, 64>;
  for (var j = 0u; j < H; j++) { h0[j] = max(mlp[2u * j] * sd + mlp[2u * j + 1u] * p.g + mlp[b0 + j], 0.0); }
  var o = mlp[b2];
  for (var j = 0u; j < H; j++) {
    var a = mlp[b1 + j];
    for (var k = 0u; k < H; k++) { a += mlp[w1 + j * H + k] * h0[k]; }
    o += mlp[w2 + j] * max(a, 0.0);
  }
  return -o;
}
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
#if ${K_LEAKY}
  let v = x[i];
  y[i] = select(v * 0.01, v, v > 0.0);
#elif ${K_SCALE}
  y[i] = x[i] * p.g;
#elif ${K_QUANT}
  sym[i] = i32(round(x[i] - m[i]));
#elif ${K_DEQUANT}
  y[i] = f32(sym[i]) + m[i];
#else
  let q = f32(sym[i]);
  let a = abs(q);
  var off = 0.0;
  if (a >= 1e-4) { off = offset(max(s[i], p.bound)); }
  var v = sign(q) * (a + off) * p.rescale;
#if ${HAS_MEAN}
  v += m[i];
#endif
  y[i] = v;
#endif
}
