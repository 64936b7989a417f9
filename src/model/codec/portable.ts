/**
 * Portable h_s → indexes: the host-side rules of the exact fixed-point scheme (docs/codec.md, "portable mode").
 *
 * Every value is an integer, every operation is exact, so any device that follows these rules (the WGSL kernels of
 * src/gpu/ops/intconv.ts, the TypeScript reference of src/cpu/codec-backend.ts) gets the same indexes bit for bit.
 *
 * - Activations: int32 a with |a| ≤ 32767 and a per-tensor exponent F (real value a·2^−F).
 * - Weights: per layer wq = RNE(w·2^Fw), Fw the largest integer with RNE(max|w|·2^Fw) ≤ 32767.
 * - Conv: exact Σ a·wq + RNE(b·2^(F+Fw)) in a hi/lo accumulator (value = hi·2^16 + lo, 0 ≤ lo < 2^16). Products are
 *   < 2^30; their high and low halves are summed separately, so nothing overflows for up to 65535 terms.
 * - ReLU then requantization: s = the smallest shift with round_half_up(vmax_bound / 2^s) ≤ 32767, where
 *   vmax_bound = maxHi·2^16 + 65535 (maxHi = the exact integer max of the hi words), F' = F + Fw − s.
 * - Indexes: with E = F + Fw of the last layer, T_k = floor(table[k]·2^E) (exact: table[k] is a float32),
 *   index = #{k < L−1 : v > T_k}. Since v is an integer, v > T_k ⇔ v·2^−E > table[k]; the lower bound 0.11 equals
 *   table[0] in CompressAI so clamping never changes the index and is not needed.
 * - Input: z_hat = f32(symbol) + median (float32, as in compat), a = RNE(z_hat·2^F0) with the largest F0 ≤ 30 that
 *   keeps every |a| ≤ 32767.
 */
export const ACT_MAX = 32767;
export const MAX_TERMS = 65535;
const TWO16 = 65536;
/** Accumulator values stay far below 2^47; bias and thresholds are saturated there. */
const SAT = 2 ** 46;

/** Round half to even of a double (exact for the dyadic values used here). */
export function rne(x: number): number {
  let r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r;
}

export function quantizeWeights(w: Float32Array): { wq: Int32Array; Fw: number } {
  let m = 0;
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i]!));
  let Fw = 0;
  if (m > 0) {
    Fw = Math.floor(Math.log2(ACT_MAX / m)) + 1;
    while (rne(m * 2 ** Fw) > ACT_MAX) Fw--;
  }
  Fw = Math.max(-60, Math.min(60, Fw));
  const wq = new Int32Array(w.length);
  for (let i = 0; i < w.length; i++) wq[i] = rne(w[i]! * 2 ** Fw);
  return { wq, Fw };
}

export function splitHiLo(v: number): [number, number] {
  const hi = Math.floor(v / TWO16);
  return [hi, v - hi * TWO16];
}

export function biasHiLo(bias: Float32Array, E: number): { hi: Int32Array; lo: Int32Array } {
  const hi = new Int32Array(bias.length), lo = new Int32Array(bias.length);
  for (let i = 0; i < bias.length; i++) {
    const v = Math.max(-SAT, Math.min(SAT, rne(bias[i]! * 2 ** E)));
    [hi[i], lo[i]] = splitHiLo(v);
  }
  return { hi, lo };
}

/** Smallest s ≥ 0 such that round_half_up((maxHi·2^16 + 65535) / 2^s) ≤ 32767. */
export function requantShift(maxHi: number): number {
  const v = Math.max(0, maxHi) * TWO16 + 65535;
  for (let s = 0; s <= 47; s++) {
    const r = s === 0 ? v : Math.floor((v + 2 ** (s - 1)) / 2 ** s);
    if (r <= ACT_MAX) return s;
  }
  return 47;
}

/** Reference requantization of one accumulator value (already exact in a double). */
export function requantValue(v: number, s: number): number {
  if (v <= 0) return 0;
  const r = s === 0 ? v : Math.floor((v + 2 ** (s - 1)) / 2 ** s);
  return Math.min(r, ACT_MAX);
}

/**
 * Index thresholds T_k = floor(table[k]·2^E / gain) (gain 1: exact). A variable-rate model compares scales·gain with
 * the table, i.e. v·2^−E·gain > table[k] ⇔ v > table[k]·2^E/gain: the quotient is one IEEE double division on the
 * host, the same on every device.
 */
/** The portable LeakyReLU's slope, 41/4096 (≈ 0.01001, torch's 0.01), and the cap that keeps r·41 in 22 + 6 bits. */
export const LEAKY_NUM = 41;
export const LEAKY_SHIFT = 12;
export const LEAKY_CAP = 3273000;

/**
 * Reference requantization with the portable LeakyReLU (mean-scale models): v ≥ 0 as requantValue; v < 0 gives
 * −min(32767, (min(round_half_up(|v| / 2^s), LEAKY_CAP)·41 + 2048) >> 12). Exact integers throughout.
 */
export function leakyRequantValue(v: number, s: number): number {
  if (v >= 0) return requantValue(v, s);
  const a = -v;
  const r = Math.min(LEAKY_CAP, s === 0 ? a : Math.floor((a + 2 ** (s - 1)) / 2 ** s));
  return 0 - Math.min(ACT_MAX, Math.floor((r * LEAKY_NUM + 2 ** (LEAKY_SHIFT - 1)) / 2 ** LEAKY_SHIFT)); // 0 − x: no −0
}

export function thresholds(table: Float32Array, E: number, gain = 1): { hi: Int32Array; lo: Int32Array } {
  const L = table.length - 1;
  const hi = new Int32Array(L), lo = new Int32Array(L);
  for (let k = 0; k < L; k++) {
    const t = Math.min(SAT, Math.floor(gain === 1 ? table[k]! * 2 ** E : (table[k]! * 2 ** E) / gain));
    [hi[k], lo[k]] = splitHiLo(t);
  }
  return { hi, lo };
}

/** Fixed-point input of h_s from the z symbols (CHW) and the medians. */
export function portableInput(zSymbols: Int32Array, medians: Float32Array, hw: number): { a: Int32Array; F: number } {
  const n = zSymbols.length;
  const zhat = new Float64Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.fround(zSymbols[i]! + medians[Math.floor(i / hw)]!);
    zhat[i] = v;
    m = Math.max(m, Math.abs(v));
  }
  let F = 30;
  if (m > 0) {
    F = Math.min(30, Math.floor(Math.log2(ACT_MAX / m)) + 1);
    while (rne(m * 2 ** F) > ACT_MAX) F--;
  }
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rne(zhat[i]! * 2 ** F);
  return { a, F };
}
