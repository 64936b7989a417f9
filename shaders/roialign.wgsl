// ROIAlign (torchvision roi_align, aligned=True/False, sampling_ratio 0 = adaptive ceil(roi/P) grid) over up to four
// HWC feature maps (FPN p2..p5), the level of each ROI given by the host (`levels`, 0-based into the map list).
// Output: [C*P*P, 1, R] stored HWC, i.e. out[r][c*P*P + py*P + px]: each ROI is one "pixel" whose channels are in
// the (c, y, x) flatten order of Detectron2's box head, so fc1 runs as a 1x1 conv.
// Thread t = ((r*P*P) + bin)*C + c: neighbouring threads read neighbouring channels of the same sample.
struct Params {
  R: u32, C: u32, P: u32, sampling: u32,
  H0: u32, W0: u32, H1: u32, W1: u32,
  H2: u32, W2: u32, H3: u32, W3: u32,
  s0: f32, s1: f32, s2: f32, s3: f32,
  offset: f32, _q0: f32, _q1: f32, _q2: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rois: array<f32>;
@group(0) @binding(2) var<storage, read> levels: array<u32>;
@group(0) @binding(3) var<storage, read> f0: array<f32>;
@group(0) @binding(4) var<storage, read> f1: array<f32>;
@group(0) @binding(5) var<storage, read> f2: array<f32>;
@group(0) @binding(6) var<storage, read> f3: array<f32>;
@group(0) @binding(7) var<storage, read_write> out: array<f32>;

fn fetch(l: u32, i: u32) -> f32 {
  switch l {
    case 0u: { return f0[i]; }
    case 1u: { return f1[i]; }
    case 2u: { return f2[i]; }
    default: { return f3[i]; }
  }
}

// torchvision bilinear_interpolate (roi_align_common.h) at (y, x), channel c, on an H x W HWC map.
fn bilinear(l: u32, H: u32, W: u32, c: u32, yin: f32, xin: f32) -> f32 {
  var y = yin;
  var x = xin;
  if (y < -1.0 || y > f32(H) || x < -1.0 || x > f32(W)) { return 0.0; }
  if (y <= 0.0) { y = 0.0; }
  if (x <= 0.0) { x = 0.0; }
  var yl = u32(y);
  var xl = u32(x);
  var yh: u32;
  var xh: u32;
  if (yl >= H - 1u) { yl = H - 1u; yh = H - 1u; y = f32(yl); } else { yh = yl + 1u; }
  if (xl >= W - 1u) { xl = W - 1u; xh = W - 1u; x = f32(xl); } else { xh = xl + 1u; }
  let ly = y - f32(yl);
  let lx = x - f32(xl);
  let hy = 1.0 - ly;
  let hx = 1.0 - lx;
  let v1 = fetch(l, (yl * W + xl) * p.C + c);
  let v2 = fetch(l, (yl * W + xh) * p.C + c);
  let v3 = fetch(l, (yh * W + xl) * p.C + c);
  let v4 = fetch(l, (yh * W + xh) * p.C + c);
  return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let PP = p.P * p.P;
  if (t >= p.R * PP * p.C) { return; }
  let c = t % p.C;
  let rb = t / p.C;
  let bin = rb % PP;
  let r = rb / PP;
  let px = bin % p.P;
  let py = bin / p.P;
  let l = levels[r];
  var H: u32; var W: u32; var s: f32;
  switch l {
    case 0u: { H = p.H0; W = p.W0; s = p.s0; }
    case 1u: { H = p.H1; W = p.W1; s = p.s1; }
    case 2u: { H = p.H2; W = p.W2; s = p.s2; }
    default: { H = p.H3; W = p.W3; s = p.s3; }
  }
  let sx = rois[r * 4u] * s - p.offset;
  let sy = rois[r * 4u + 1u] * s - p.offset;
  let ex = rois[r * 4u + 2u] * s - p.offset;
  let ey = rois[r * 4u + 3u] * s - p.offset;
  var rw = ex - sx;
  var rh = ey - sy;
  if (p.offset == 0.0) { rw = max(rw, 1.0); rh = max(rh, 1.0); }
  let bw = rw / f32(p.P);
  let bh = rh / f32(p.P);
  var gh = i32(ceil(rh / f32(p.P)));
  var gw = i32(ceil(rw / f32(p.P)));
  if (p.sampling > 0u) { gh = i32(p.sampling); gw = i32(p.sampling); }
  let count = max(f32(gh * gw), 1.0);
  var acc = 0.0;
  for (var iy = 0; iy < gh; iy++) {
    let y = sy + f32(py) * bh + (f32(iy) + 0.5) * bh / f32(gh);
    for (var ix = 0; ix < gw; ix++) {
      let x = sx + f32(px) * bw + (f32(ix) + 0.5) * bw / f32(gw);
      acc += bilinear(l, H, W, c, y, x);
    }
  }
  out[r * p.C * PP + c * PP + bin] = acc / count;
}
