/**
 * Independent, slow reference of CompressAI's rANS (BigInt state), written straight from
 * shared/docs/compressai-reference.md §5. Used to cross-check the fast coder and to craft malformed streams.
 */
import { mulberry32 } from '../../src/util/random.ts';
export type Op = { kind: 'sym'; start: number; freq: number } | { kind: 'bypass'; v: number };

export function refFlush(ops: Op[]): Uint8Array {
  let x = 1n << 31n;
  const emitted: number[] = [];
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i]!;
    if (op.kind === 'sym') {
      const f = BigInt(op.freq);
      if (x >= f << 47n) {
        emitted.push(Number(x & 0xffffffffn));
        x >>= 32n;
      }
      x = (x / f) * 65536n + (x % f) + BigInt(op.start);
    } else {
      if (x >= 1n << 59n) {
        emitted.push(Number(x & 0xffffffffn));
        x >>= 32n;
      }
      x = (x << 4n) | BigInt(op.v);
    }
  }
  const words = [Number(x & 0xffffffffn), Number(x >> 32n), ...emitted.reverse()];
  const out = new Uint8Array(words.length * 4);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w, true));
  return out;
}

/** Ops for symbols as CompressAI's encoder queues them. */
export function refOps(
  symbols: ArrayLike<number>,
  indexes: ArrayLike<number>,
  cdfs: ArrayLike<number>[],
  lens: ArrayLike<number>,
  offs: ArrayLike<number>,
): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < symbols.length; i++) {
    const r = indexes[i]!;
    const cdf = cdfs[r]!;
    const maxV = lens[r]! - 2;
    let value = symbols[i]! - offs[r]!;
    let raw = 0;
    let esc = false;
    if (value < 0) {
      raw = -2 * value - 1;
      value = maxV;
      esc = true;
    } else if (value >= maxV) {
      raw = 2 * (value - maxV);
      value = maxV;
      esc = true;
    }
    ops.push({ kind: 'sym', start: cdf[value]!, freq: cdf[value + 1]! - cdf[value]! });
    if (esc) {
      let n = 0;
      while (Math.floor(raw / 16 ** n) !== 0) n++;
      let c = n;
      while (c >= 15) {
        ops.push({ kind: 'bypass', v: 15 });
        c -= 15;
      }
      ops.push({ kind: 'bypass', v: c });
      for (let j = 0; j < n; j++) ops.push({ kind: 'bypass', v: Math.floor(raw / 16 ** j) % 16 });
    }
  }
  return ops;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  };
}

/** Random valid CDF row of the given length (strictly increasing 0..65536), optionally zero-padded. */
export function randomCdf(r: ReturnType<typeof rng>, len: number, width = len): Int32Array {
  const bins = len - 1;
  const w = Array.from({ length: bins }, () => r.next() ** 3 + 1e-6);
  const sum = w.reduce((a, b) => a + b, 0);
  const freq = w.map((v) => Math.max(1, Math.floor((v / sum) * (65536 - bins))));
  let total = freq.reduce((a, b) => a + b, 0);
  // distribute the remainder (or take away) keeping every bin >= 1
  let k = 0;
  while (total !== 65536) {
    const j = k++ % bins;
    if (total < 65536) {
      freq[j]!++;
      total++;
    } else if (freq[j]! > 1) {
      freq[j]!--;
      total--;
    }
  }
  const cdf = new Int32Array(width);
  for (let j = 0; j < bins; j++) cdf[j + 1] = cdf[j]! + freq[j]!;
  return cdf;
}
