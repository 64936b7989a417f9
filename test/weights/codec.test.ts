import { describe, expect, it } from 'vitest';
import {
  convertToSafetensors,
  loadCodecWeights,
  readCheckpoint,
  readSafetensors,
  toHex,
  type CodecWeights,
} from '../../src/model/weights/index.ts';
import { bytesOf, golden, npy, sameBits } from './helpers.ts';
import { describeGolden, itGolden } from '../helpers/golden.ts';

const GDN = ['g_a.1', 'g_a.3', 'g_a.5', 'g_s.1', 'g_s.3', 'g_s.5'];

function checkAgainstGolden(w: CodecWeights, dir: string): void {
  for (const g of GDN) {
    for (const p of ['beta', 'gamma']) {
      const ref = npy(golden(`${dir}/gdn_${g}_${p}_eff.npy`));
      const t = w.tensors.get(`${g}.${p}`)!;
      expect(t.shape).toEqual(ref.shape);
      expect(sameBits(t.data, ref.data), `${g}.${p} bit-exact`).toBe(true);
    }
  }
  const pairs: [string, string][] = [
    ['entropy_bottleneck.quantized_cdf', 'eb_quantized_cdf'],
    ['entropy_bottleneck.cdf_length', 'eb_cdf_length'],
    ['entropy_bottleneck.offset', 'eb_offset'],
    ['entropy_bottleneck.medians', 'eb_medians'],
    ['gaussian_conditional.quantized_cdf', 'gc_quantized_cdf'],
    ['gaussian_conditional.cdf_length', 'gc_cdf_length'],
    ['gaussian_conditional.offset', 'gc_offset'],
    ['gaussian_conditional.scale_table', 'gc_scale_table'],
  ];
  for (const [name, file] of pairs) {
    const ref = npy(golden(`${dir}/${file}.npy`));
    const t = w.tensors.get(name)!;
    expect(t.shape, name).toEqual(ref.shape);
    expect(t.dtype).toBe(ref.dtype === '<f4' ? 'float32' : 'int32');
    expect(sameBits(t.data, ref.data), `${name} equals ${file}.npy`).toBe(true);
  }
}

describeGolden('CompressAI checkpoints (golden)', () => {
  it('case A (64-channel): config, canonical names, GDN effective and tables bit-exact', async () => {
    const w = await loadCodecWeights(golden('compressai/A/model.pth.tar'));
    expect([w.kind, w.C, w.N, w.M]).toEqual(['compressai-hyperprior', 64, 128, 192]);
    expect(w.tensors.get('g_a.0.weight')!.shape).toEqual([128, 64, 5, 5]);
    expect(w.tensors.get('g_s.6.weight')!.shape).toEqual([128, 64, 5, 5]);
    expect(w.tensors.get('g_s.6.bias')!.shape).toEqual([64]);
    expect(w.tensors.size).toBe(28 + 12 + 8);
    expect(w.fingerprint.length).toBe(16);
    checkAgainstGolden(w, 'compressai/A');
  });

  it('case C (RGB stock model)', async () => {
    const w = await loadCodecWeights(golden('compressai/C/model.pth.tar'));
    expect([w.C, w.N, w.M]).toEqual([3, 128, 192]);
    checkAgainstGolden(w, 'compressai/C');
  });

  it('pipeline P_A codec checkpoint', async () => {
    const w = await loadCodecWeights(golden('pipeline/P_A/codec.pth.tar'));
    expect([w.C, w.N, w.M]).toEqual([64, 64, 96]);
    expect(w.tensors.get('gaussian_conditional.quantized_cdf')!.shape).toEqual([64, 3133]);
  });

  it('conv weights are the stored values (views, unchanged)', async () => {
    const bytes = bytesOf(golden('compressai/A/model.pth.tar'));
    const raw = readCheckpoint(bytes);
    expect(raw.format).toBe('torch-zip');
    expect(raw.tensors.size).toBe(91);
    const w = await loadCodecWeights(bytes);
    expect(sameBits(w.tensors.get('h_s.0.weight')!.data, raw.tensors.get('h_s.0.weight')!.data)).toBe(true);
    expect(w.tensors.get('h_s.0.weight')!.data.buffer).toBe(bytes.buffer); // zero copy
  });

  it('the three historical EntropyBottleneck namings give identical tensors', async () => {
    const names = ['tiny_keys_v1.0', 'tiny_keys_v1.1', 'tiny_keys_current'];
    const raws = names.map((n) => readCheckpoint(bytesOf(golden(`compressai/keys/${n}.pth.tar`))));
    expect(raws[0]!.tensors.has('entropy_bottleneck._matrices.0')).toBe(true);
    expect(raws[1]!.tensors.has('entropy_bottleneck._matrix0')).toBe(true);
    expect(raws[2]!.tensors.has('entropy_bottleneck.matrices.0')).toBe(true);
    const ws = await Promise.all(names.map((n) => loadCodecWeights(golden(`compressai/keys/${n}.pth.tar`))));
    expect([ws[0]!.C, ws[0]!.N, ws[0]!.M]).toEqual([64, 16, 24]);
    for (const w of ws.slice(1)) {
      expect([...w.tensors.keys()].sort()).toEqual([...ws[0]!.tensors.keys()].sort());
      for (const [k, t] of ws[0]!.tensors) expect(sameBits(w.tensors.get(k)!.data, t.data), k).toBe(true);
      expect(toHex(w.fingerprint)).toBe(toHex(ws[0]!.fingerprint));
    }
  });

  itGolden('round trip: convert -> .safetensors -> load gives the same tensors and config', async () => {
    const w = await loadCodecWeights(golden('compressai/A/model.pth.tar'));
    const st = convertToSafetensors(w, 'ab'.repeat(32));
    // layout: u64 header length, JSON header padded to 8 bytes, then data
    const n = new DataView(st.buffer).getUint32(0, true);
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + n)));
    expect(header.__metadata__.kind).toBe('compressai-hyperprior');
    expect(JSON.parse(header.__metadata__.config)).toEqual({ architecture: 'bmshj2018-hyperprior', C: 64, N: 128, M: 192 });
    expect(header.__metadata__.source_sha256).toBe('ab'.repeat(32));
    expect(header['g_a.0.weight']).toEqual({ dtype: 'F32', shape: [128, 64, 5, 5], data_offsets: expect.any(Array) });
    expect(readSafetensors(st).tensors.size).toBe(w.tensors.size);
    const back = await loadCodecWeights(st);
    expect([back.C, back.N, back.M]).toEqual([64, 128, 192]);
    expect(toHex(back.fingerprint)).toBe(toHex(w.fingerprint));
    for (const [k, t] of w.tensors) {
      expect(back.tensors.get(k)!.shape).toEqual(t.shape);
      expect(sameBits(back.tensors.get(k)!.data, t.data), k).toBe(true);
    }
    checkAgainstGolden(back, 'compressai/A');
  });
});
