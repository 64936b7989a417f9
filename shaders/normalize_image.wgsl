// Detectron2 preprocess_image + ImageList padding: an H×W×3 uint8 BGR image (bytes packed little-endian into u32
// words) → a [3, Hp, Wp] HWC float32 tensor, x − mean[c] inside the image and 0.0 in the bottom/right padding.
struct Params { h: u32, w: u32, Hp: u32, Wp: u32, m0: f32, m1: f32, m2: f32, _p: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.Hp * p.Wp * 3u) { return; }
  let c = i % 3u;
  let pix = i / 3u;
  let x = pix % p.Wp;
  let yy = pix / p.Wp;
  if (x >= p.w || yy >= p.h) { y[i] = 0.0; return; }
  let b = (yy * p.w + x) * 3u + c;
  let v = f32((img[b / 4u] >> ((b % 4u) * 8u)) & 0xffu);
  var m = p.m0;
  if (c == 1u) { m = p.m1; } else if (c == 2u) { m = p.m2; }
  y[i] = v - m;
}
