// Segmented greedy NMS over entries (seg, desc key, payload, valid) sorted by (segment, score descending).
// Segments are FPN levels (RPN, batched_nms with level ids) or classes (ROI heads). Kernels (K_* flag):
//   K_BOUNDS  per segment [start, end) in the sorted list (bounds zero-initialised by the host)
//   K_MASK    per (row i, word w): bit b set when column j = start(seg_i) + 32w + b is later in the same segment
//             and IoU(i, j) > thresh (torchvision: no +1, strict >). Box of entry i = boxes[payload_i].
//   K_SCAN    one workgroup per segment: the sequential greedy pass over the mask rows; invalid entries are
//             neither kept nor suppress anything
//   K_REKEY   kept entries -> (0, desc key, payload, 1), others -> sentinel; counts the kept ones
struct Params { m: u32, WMAX: u32, n: u32, _p0: u32, thresh: f32, _q0: f32, _q1: f32, _q2: f32 };
@group(0) @binding(0) var<uniform> p: Params;

#if ${K_BOUNDS}
@group(0) @binding(1) var<storage, read> entries: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> bounds: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.m) { return; }
  let s = entries[i].x;
  if (i == 0u || entries[i - 1u].x != s) { bounds[s * 2u] = i; }
  if (i + 1u == p.m || entries[i + 1u].x != s) { bounds[s * 2u + 1u] = i + 1u; }
}
#endif

#if ${K_MASK}
@group(0) @binding(1) var<storage, read> entries: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> boxes: array<f32>;
@group(0) @binding(3) var<storage, read> bounds: array<u32>;
@group(0) @binding(4) var<storage, read_write> mask: array<u32>;

fn box_of(i: u32) -> vec4<f32> {
  let j = entries[i].z * 4u;
  return vec4<f32>(boxes[j], boxes[j + 1u], boxes[j + 2u], boxes[j + 3u]);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.m * p.WMAX) { return; }
  let i = t / p.WMAX;
  let w = t % p.WMAX;
  let seg = entries[i].x;
  let start = bounds[seg * 2u];
  let end = bounds[seg * 2u + 1u];
  let a = box_of(i);
  let areaA = (a.z - a.x) * (a.w - a.y);
  var bits = 0u;
  for (var b = 0u; b < 32u; b++) {
    let j = start + w * 32u + b;
    if (j <= i || j >= end) { continue; }
    let c = box_of(j);
    let areaC = (c.z - c.x) * (c.w - c.y);
    let iw = max(0.0, min(a.z, c.z) - max(a.x, c.x));
    let ih = max(0.0, min(a.w, c.w) - max(a.y, c.y));
    let inter = iw * ih;
    let iou = inter / (areaA + areaC - inter);
    if (iou > p.thresh) { bits = bits | (1u << b); }
  }
  mask[t] = bits;
}
#endif

#if ${K_SCAN}
const WG: u32 = 64u;
const MAXW: u32 = ${MAXW}u;
@group(0) @binding(1) var<storage, read> entries: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> bounds: array<u32>;
@group(0) @binding(3) var<storage, read> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> keep: array<u32>;

var<workgroup> removed: array<u32, MAXW>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let seg = wg.x + wg.y * nwg.x;
  let start = bounds[seg * 2u];
  let len = bounds[seg * 2u + 1u] - start;
  for (var w = lid; w < MAXW; w += WG) { removed[w] = 0u; }
  for (var i = 0u; i < len; i++) {
    workgroupBarrier();
    let gone = (removed[i >> 5u] >> (i & 31u)) & 1u;
    let row = start + i;
    let valid = entries[row].w;
    workgroupBarrier();
    let kept = gone == 0u && valid != 0u;
    if (lid == 0u) { keep[row] = select(0u, 1u, kept); }
    if (kept) {
      for (var w = (i >> 5u) + lid; w < p.WMAX; w += WG) { removed[w] = removed[w] | mask[row * p.WMAX + w]; }
    }
  }
}
#endif

#if ${K_REKEY}
@group(0) @binding(1) var<storage, read> entries: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> keep: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> counter: array<atomic<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  if (i < p.m && keep[i] != 0u) {
    let e = entries[i];
    out[i] = vec4<u32>(0u, e.y, e.z, 1u);
    atomicAdd(&counter[0], 1u);
  } else {
    out[i] = vec4<u32>(0xffffffffu, 0xffffffffu, 0xffffffffu, 0u);
  }
}
#endif
