// Element-wise ops on hi/lo fixed-point accumulators (value = hi * 65536 + lo, 0 <= lo < 65536) for the portable
// h_s path. All integer, all exact.
//   MAXHI:   atomicMax of max(hi, 0) into res[0]           (order-independent)
//   REQUANT: ReLU, then round half up of value / 2^S, saturated to 32767
//            (LEAKY, with REQUANT only: a negative value v gives −min(32767, (min(round_half_up(|v| / 2^S), 3273000)·41 + 2048) >> 12),
//            the portable LeakyReLU of the mean-scale models, slope 41/4096)
//   INDEX:   after ReLU, #{k < L : value > T_k} with thresholds T_k = thi[k] * 65536 + tlo[k]
struct Params { N: u32, S: u32, L: u32, _p0: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> hi: array<i32>;
@group(0) @binding(2) var<storage, read> lo: array<i32>;
#if ${MAXHI}
@group(0) @binding(3) var<storage, read_write> res: array<atomic<i32>>;
#endif
#if ${REQUANT}
@group(0) @binding(3) var<storage, read_write> out: array<i32>;
#endif
#if ${INDEX}
@group(0) @binding(3) var<storage, read> thi: array<i32>;
@group(0) @binding(4) var<storage, read> tlo: array<i32>;
@group(0) @binding(5) var<storage, read_write> out: array<i32>;
#endif

const ACT_MAX: i32 = 32767;

// round half up of (h·2^16 + l) / 2^s for a non-negative value, saturated to cap (cap < 2^22)
fn requant(h: i32, l: i32, s: u32, cap: i32) -> i32 {
  var r: i32;
  if (s <= 16u) {
    // value / 2^s = h * 2^(16 - s) + l / 2^s (rounding term 2^(s-1), none for s = 0)
    if (h > (cap >> (16u - s))) {
      r = cap;
    } else {
      let half = select(0, 1 << ((s + 31u) & 31u), s > 0u);
      r = (h << (16u - s)) + ((l + half) >> s);
    }
  } else {
    // s >= 17: floor((h * 2^16 + l + 2^(s-1)) / 2^s) = (h + 2^(s-17)) >> (s - 16)  (l < 2^16 never carries)
    r = (h + (1 << (s - 17u))) >> (s - 16u);
  }
  return min(r, cap);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
  var h = hi[i];
  var l = lo[i];
#if ${LEAKY}
  if (h < 0) {
    // |v| = −(h·2^16 + l) = (−h − 1)·2^16 + (2^16 − l) when l > 0, else (−h)·2^16
    let hn = select(-h, -h - 1, l > 0);
    let ln = select(0, 65536 - l, l > 0);
    let r = requant(hn, ln, p.S, 3273000);
    out[i] = -min((r * 41 + 2048) >> 12u, ACT_MAX);
    return;
  }
#endif
  if (h < 0) { h = 0; l = 0; }
#if ${MAXHI}
  atomicMax(&res[0], h);
#endif
#if ${REQUANT}
  out[i] = requant(h, l, p.S, ACT_MAX);
#endif
#if ${INDEX}
  var n = 0;
  for (var k = 0u; k < p.L; k++) {
    let th = thi[k];
    if (h > th || (h == th && l > tlo[k])) { n++; }
  }
  out[i] = n;
#endif
}
