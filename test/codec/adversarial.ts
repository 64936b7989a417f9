/**
 * Index-path inputs for the cross-device tests: the golden cases' z symbols, and adversarial variants of golden A
 * whose scales sit exactly at scale-table boundaries (float32 boundaries for compat, fixed-point thresholds for
 * portable). Shared by portable-cross.test.ts and the child script it runs on SwiftShader.
 */
import { createHash } from 'node:crypto';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import type { Tensor } from '../../src/model/backend.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import type { CodecOps } from '../../src/model/codec/ops.ts';
import type { HyperpriorParams } from '../../src/model/codec/params.ts';
import { goldenParams, i32 } from './golden.ts';

export const nextUp = (v: number): number => {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0]! += v >= 0 ? 1 : -1;
  return f[0]!;
};
export const nextDown = (v: number): number => {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0]! += v > 0 ? -1 : 1;
  return f[0]!;
};

export interface IndexCase {
  name: string;
  params: HyperpriorParams;
  zSymbols: Int32Array;
  zShape: [number, number];
  /** Expected index per y channel (constant over space) where known. */
  expectCompat?: number[];
  expectPortable?: number[];
}

function withLastLayer(p: HyperpriorParams, bias: Float32Array): HyperpriorParams {
  const hS = p.hS.slice();
  hS[2] = { ...hS[2]!, weight: new Float32Array(hS[2]!.weight.length), bias };
  return { ...p, hS };
}

/** E of the last portable layer for `p` on these z symbols (via the CPU reference). */
async function lastExponent(p: HyperpriorParams, z: Int32Array, zShape: [number, number]): Promise<number> {
  const codec = await HyperpriorCodec.create(p, new CpuCodecBackend());
  let E = NaN;
  await codec.indexesFromZSymbols(z, zShape, 'portable', (layer, e) => {
    if (layer === 2) E = e;
  });
  return E;
}

export async function indexCases(): Promise<IndexCase[]> {
  const A = goldenParams('compressai/A/model.pth.tar');
  const zA = i32('compressai/A/z_symbols.npy');
  const cases: IndexCase[] = [
    { name: 'golden A', params: A, zSymbols: zA, zShape: [2, 3] },
    { name: 'golden C', params: goldenParams('compressai/C/model.pth.tar'), zSymbols: i32('compressai/C/z_symbols.npy'), zShape: [2, 3] },
    {
      name: 'pipeline P_A m1',
      params: goldenParams('pipeline/P_A/codec.pth.tar'),
      zSymbols: i32('pipeline/P_A/m1/z_symbols.npy'),
      zShape: [2, 2],
    },
    {
      name: 'pipeline P_A m2',
      params: goldenParams('pipeline/P_A/codec.pth.tar'),
      zSymbols: i32('pipeline/P_A/m2/z_symbols.npy'),
      zShape: [1, 2],
    },
  ];
  const t = A.scaleTable,
    M = A.M;
  // float32 boundaries: scale == table[k], one ulp above, one ulp below
  const fb = new Float32Array(M),
    expC: number[] = [];
  for (let c = 0; c < M; c++) {
    const k = c % 63,
      kind = Math.floor(c / 63);
    if (kind === 0) {
      fb[c] = t[k]!;
      expC.push(k);
    } else if (kind === 1) {
      fb[c] = nextUp(t[k]!);
      expC.push(k + 1);
    } else if (kind === 2) {
      fb[c] = nextDown(t[k]!);
      expC.push(k);
    } else {
      fb[c] = [0, 300, nextDown(0.11)][c % 3]!;
      expC.push([0, 63, 0][c % 3]!);
    }
  }
  const pf = withLastLayer(A, fb);
  const E = await lastExponent(pf, zA, [2, 3]);
  cases.push({ name: 'adversarial: scales at float32 table boundaries', params: pf, zSymbols: zA, zShape: [2, 3], expectCompat: expC });
  // fixed-point boundaries: v = T_k, T_k + 1, T_k − 1 exactly (T_k = floor(table[k]·2^E))
  const xb = new Float32Array(M),
    expP: number[] = [];
  for (let c = 0; c < M; c++) {
    const k = c % 63,
      d = [0, 1, -1][Math.floor(c / 63) % 3]!;
    const Tk = Math.floor(t[k]! * 2 ** E);
    const b = Math.fround((Tk + d) * 2 ** -E);
    xb[c] = b;
    const v = Math.round(b * 2 ** E);
    let n = 0;
    for (let j = 0; j < 63; j++) if (v > Math.floor(t[j]! * 2 ** E)) n++;
    expP.push(n);
  }
  cases.push({
    name: 'adversarial: scales at fixed-point thresholds',
    params: withLastLayer(A, xb),
    zSymbols: zA,
    zShape: [2, 3],
    expectPortable: expP,
  });
  // z at extreme values (saturating fixed-point input) with the real weights
  const zx = zA.map((v, i) => (i % 7 === 0 ? 1000 * (i % 2 ? 1 : -1) : v));
  cases.push({ name: 'adversarial: extreme z symbols', params: A, zSymbols: zx, zShape: [2, 3] });
  return cases;
}

export function hash(a: Int32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex')
    .slice(0, 16);
}

/** Indexes of every case on one backend: { name: { portable, compat } } as hashes, plus the raw arrays. */
export async function runCases<T extends Tensor>(
  be: CodecOps<T>,
  cases: IndexCase[],
): Promise<Record<string, { portable: string; compat: string; p: Int32Array; c: Int32Array }>> {
  const out: Record<string, { portable: string; compat: string; p: Int32Array; c: Int32Array }> = {};
  for (const cs of cases) {
    const codec = await HyperpriorCodec.create(cs.params, be);
    const p = await codec.indexesFromZSymbols(cs.zSymbols, cs.zShape, 'portable');
    const c = await codec.indexesFromZSymbols(cs.zSymbols, cs.zShape, 'compat');
    codec.release();
    out[cs.name] = { portable: hash(p), compat: hash(c), p, c };
  }
  return out;
}
