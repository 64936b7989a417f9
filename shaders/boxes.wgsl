// Box kernels of the Detectron2 heads (one kernel per compile, chosen by a K_* flag):
//   K_RPN_DECODE  per-level top-k anchors -> decoded, clipped boxes + NMS entries (level, desc key, index, valid)
//   K_SOFTMAX     row softmax of the class logits [R][K]
//   K_ROI_DECODE  per proposal: class-specific decode (weights, clamp), clip, row finiteness, score > thresh
//                 candidates appended (atomic counter; order fixed later by the sort)
//   K_CAND_KEYS   candidates -> sort entries (class, desc key(score), flat index, 1)
//   K_GATHER      first K sorted entries -> boxes, scores, classes (-1 past the kept count)
// Decoding follows Box2BoxTransform.apply_deltas in float32: no +1 widths, dw/dh clamped above only.

fn desc_key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  let ord = select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
  return ~ord;
}

fn finite(v: f32) -> bool {
  // NaN and +-inf have an all-ones exponent.
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn decode(anchor: vec4<f32>, d: vec4<f32>, wts: vec4<f32>, clampv: f32) -> vec4<f32> {
  let wa = anchor.z - anchor.x;
  let ha = anchor.w - anchor.y;
  let cx = anchor.x + 0.5 * wa;
  let cy = anchor.y + 0.5 * ha;
  let dx = d.x / wts.x;
  let dy = d.y / wts.y;
  let dw = min(d.z / wts.z, clampv);
  let dh = min(d.w / wts.w, clampv);
  let pcx = dx * wa + cx;
  let pcy = dy * ha + cy;
  let pw = exp(dw) * wa;
  let ph = exp(dh) * ha;
  return vec4<f32>(pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph);
}

// torch.clamp(min=0, max=lim) (NaN stays NaN).
fn clip(b: vec4<f32>, h: f32, w: f32) -> vec4<f32> {
  var o = b;
  if (!(o.x != o.x)) { o.x = min(max(o.x, 0.0), w); }
  if (!(o.y != o.y)) { o.y = min(max(o.y, 0.0), h); }
  if (!(o.z != o.z)) { o.z = min(max(o.z, 0.0), w); }
  if (!(o.w != o.w)) { o.w = min(max(o.w, 0.0), h); }
  return o;
}

#if ${K_RPN_DECODE}
struct Params {
  k: u32, A: u32, W: u32, outOff: u32,
  level: u32, _p0: u32, _p1: u32, _p2: u32,
  stride: f32, clampv: f32, imgH: f32, imgW: f32,
  wx: f32, wy: f32, ww: f32, wh: f32,
  minSize: f32, _q0: f32, _q1: f32, _q2: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> deltas: array<f32>;
@group(0) @binding(4) var<storage, read> cell: array<f32>;
@group(0) @binding(5) var<storage, read_write> boxes: array<f32>;
@group(0) @binding(6) var<storage, read_write> scores: array<f32>;
@group(0) @binding(7) var<storage, read_write> entries: array<vec4<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.k) { return; }
  let idx = sorted[i].z;          // anchor index within the level = (y*W + x)*A + a
  let a = idx % p.A;
  let pos = idx / p.A;
  let sx = f32(pos % p.W) * p.stride;
  let sy = f32(pos / p.W) * p.stride;
  let anchor = vec4<f32>(sx + cell[a * 4u], sy + cell[a * 4u + 1u], sx + cell[a * 4u + 2u], sy + cell[a * 4u + 3u]);
  let d = vec4<f32>(deltas[idx * 4u], deltas[idx * 4u + 1u], deltas[idx * 4u + 2u], deltas[idx * 4u + 3u]);
  let raw = decode(anchor, d, vec4<f32>(p.wx, p.wy, p.ww, p.wh), p.clampv);
  let s = logits[idx];
  let fin = finite(raw.x) && finite(raw.y) && finite(raw.z) && finite(raw.w) && finite(s);
  let b = clip(raw, p.imgH, p.imgW);
  let valid = fin && (b.z - b.x) > p.minSize && (b.w - b.y) > p.minSize;
  let o = p.outOff + i;
  boxes[o * 4u] = b.x;
  boxes[o * 4u + 1u] = b.y;
  boxes[o * 4u + 2u] = b.z;
  boxes[o * 4u + 3u] = b.w;
  scores[o] = s;
  entries[o] = vec4<u32>(p.level, desc_key(s), o, select(0u, 1u, valid));
}
#endif

#if ${K_SOFTMAX}
struct Params { R: u32, K: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.R) { return; }
  let base = r * p.K;
  var m = x[base];
  for (var k = 1u; k < p.K; k++) { m = max(m, x[base + k]); }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) { s += exp(x[base + k] - m); }
  for (var k = 0u; k < p.K; k++) { y[base + k] = exp(x[base + k] - m) / s; }
}
#endif

#if ${K_ROI_DECODE}
struct Params {
  R: u32, K: u32, NC: u32, _p0: u32,
  imgH: f32, imgW: f32, thresh: f32, clampv: f32,
  wx: f32, wy: f32, ww: f32, wh: f32,
};
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> probs: array<f32>;      // [R][K], column K-1 = background
@group(0) @binding(2) var<storage, read> deltas: array<f32>;     // [R][NC*4]
@group(0) @binding(3) var<storage, read> proposals: array<f32>;  // [R][4]
@group(0) @binding(4) var<storage, read_write> boxes: array<f32>;   // [R][NC][4]
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;  // [R][NC]
@group(0) @binding(6) var<storage, read_write> counter: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> cand: array<u32>;    // flat r*NC + k

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= p.R) { return; }
  let prop = vec4<f32>(proposals[r * 4u], proposals[r * 4u + 1u], proposals[r * 4u + 2u], proposals[r * 4u + 3u]);
  let wts = vec4<f32>(p.wx, p.wy, p.ww, p.wh);
  var ok = true;
  for (var k = 0u; k < p.K; k++) { ok = ok && finite(probs[r * p.K + k]); }
  for (var k = 0u; k < p.NC; k++) {
    let di = (r * p.NC + k) * 4u;
    let raw = decode(prop, vec4<f32>(deltas[di], deltas[di + 1u], deltas[di + 2u], deltas[di + 3u]), wts, p.clampv);
    ok = ok && finite(raw.x) && finite(raw.y) && finite(raw.z) && finite(raw.w);
    let b = clip(raw, p.imgH, p.imgW);
    boxes[di] = b.x;
    boxes[di + 1u] = b.y;
    boxes[di + 2u] = b.z;
    boxes[di + 3u] = b.w;
    scores[r * p.NC + k] = probs[r * p.K + k];
  }
  if (!ok) { return; }
  for (var k = 0u; k < p.NC; k++) {
    if (probs[r * p.K + k] > p.thresh) {
      let slot = atomicAdd(&counter[0], 1u);
      cand[slot] = r * p.NC + k;
    }
  }
}
#endif

#if ${K_CAND_KEYS}
struct Params { n: u32, m: u32, NC: u32, _p0: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cand: array<u32>;
@group(0) @binding(2) var<storage, read> scores: array<f32>;
@group(0) @binding(3) var<storage, read_write> entries: array<vec4<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  if (i < p.m) {
    let flat = cand[i];
    entries[i] = vec4<u32>(flat % p.NC, desc_key(scores[flat]), flat, 1u);
  } else {
    entries[i] = vec4<u32>(0xffffffffu, 0xffffffffu, 0xffffffffu, 0u);
  }
}
#endif

#if ${K_GATHER}
struct Params { K: u32, NC: u32, _p0: u32, _p1: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> boxes: array<f32>;
@group(0) @binding(3) var<storage, read> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> outBoxes: array<f32>;
@group(0) @binding(5) var<storage, read_write> outScores: array<f32>;
@group(0) @binding(6) var<storage, read_write> outCls: array<i32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.K) { return; }
  let e = sorted[i];
  if (e.x != 0u) {
    for (var c = 0u; c < 4u; c++) { outBoxes[i * 4u + c] = 0.0; }
    outScores[i] = 0.0;
    outCls[i] = -1;
    return;
  }
  let j = e.z;
  for (var c = 0u; c < 4u; c++) { outBoxes[i * 4u + c] = boxes[j * 4u + c]; }
  outScores[i] = scores[j];
  outCls[i] = i32(j % p.NC);
}
#endif
