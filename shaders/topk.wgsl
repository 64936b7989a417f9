// Bitonic sort of vec4<u32> entries (key_hi, key_lo, payload, flag), ascending lexicographic on (x, y, z).
// Used for top-k (key_lo = descending-score key, payload = index: ties broken by lower index first) and for
// (class, score) ordering before per-class NMS. n (padded) is a power of two >= BLOCK.
// Entry points: local_sort (all stages k <= BLOCK in workgroup memory), global_step (one compare-exchange pass for
// a stride j >= BLOCK), local_merge (strides j < BLOCK of stage k > BLOCK in workgroup memory), make_keys.
struct Params { n: u32, k: u32, j: u32, m: u32, hi: u32, _p0: u32, _p1: u32, _p2: u32 };
@group(0) @binding(0) var<uniform> p: Params;

const BLOCK: u32 = ${BLOCK}u;
const HALF: u32 = ${BLOCK}u / 2u;

#if ${MAKE_KEYS}
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> data: array<vec4<u32>>;
#else
@group(0) @binding(1) var<storage, read_write> data: array<vec4<u32>>;
#endif

var<workgroup> sh: array<vec4<u32>, BLOCK>;

fn less(a: vec4<u32>, b: vec4<u32>) -> bool {
  if (a.x != b.x) { return a.x < b.x; }
  if (a.y != b.y) { return a.y < b.y; }
  return a.z < b.z;
}

// Descending-order key of a float: larger float -> smaller key (NaN with the sign bit clear sorts first, like
// torch.topk treating NaN as the largest value).
fn desc_key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  let ord = select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
  return ~ord;
}

#if ${MAKE_KEYS}
// n entries: i < m -> (hi, desc_key(score[i]), i, 1); padding -> all ones (sorts last).
@compute @workgroup_size(64)
fn make_keys(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  if (i < p.m) {
    data[i] = vec4<u32>(p.hi, desc_key(scores[i]), i, 1u);
  } else {
    data[i] = vec4<u32>(0xffffffffu, 0xffffffffu, 0xffffffffu, 0u);
  }
}
#else

fn cmpx_shared(i: u32, l: u32, base: u32, k: u32) {
  let a = sh[i];
  let b = sh[l];
  let up = ((base + i) & k) == 0u;
  if (select(less(a, b), less(b, a), up)) {
    sh[i] = b;
    sh[l] = a;
  }
}

@compute @workgroup_size(HALF)
fn local_sort(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  _ = p.n; // keeps binding 0 in the auto layout
  let base = (wg.x + wg.y * nwg.x) * BLOCK;
  sh[lid] = data[base + lid];
  sh[lid + HALF] = data[base + lid + HALF];
  workgroupBarrier();
  for (var k = 2u; k <= BLOCK; k = k << 1u) {
    for (var j = k >> 1u; j > 0u; j = j >> 1u) {
      let i = 2u * j * (lid / j) + (lid % j);
      cmpx_shared(i, i + j, base, k);
      workgroupBarrier();
    }
  }
  data[base + lid] = sh[lid];
  data[base + lid + HALF] = sh[lid + HALF];
}

@compute @workgroup_size(HALF)
fn local_merge(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let base = (wg.x + wg.y * nwg.x) * BLOCK;
  sh[lid] = data[base + lid];
  sh[lid + HALF] = data[base + lid + HALF];
  workgroupBarrier();
  for (var j = HALF; j > 0u; j = j >> 1u) {
    let i = 2u * j * (lid / j) + (lid % j);
    cmpx_shared(i, i + j, base, p.k);
    workgroupBarrier();
  }
  data[base + lid] = sh[lid];
  data[base + lid + HALF] = sh[lid + HALF];
}

@compute @workgroup_size(64)
fn global_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.n / 2u) { return; }
  let j = p.j;
  let i = 2u * j * (t / j) + (t % j);
  let l = i + j;
  let a = data[i];
  let b = data[l];
  let up = (i & p.k) == 0u;
  if (select(less(a, b), less(b, a), up)) {
    data[i] = b;
    data[l] = a;
  }
}
#endif
