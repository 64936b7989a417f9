import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  convertToSafetensors,
  foldFrozenBN,
  loadDetectorWeights,
  readCheckpoint,
  toHex,
} from '../../src/model/weights/index.ts';
import { bytesOf, fixture, golden, npy, sameBits } from './helpers.ts';
import { itGolden } from '../helpers/golden.ts';

describe('Detectron2 model-zoo pickles', () => {
  itGolden('golden detectron2/A (protocol 2, narrow R50-FPN): arch inferred from shapes, BN folded', async () => {
    const bytes = bytesOf(golden('detectron2/A/weights.pkl'));
    const raw = readCheckpoint(bytes);
    expect(raw.format).toBe('pickle');
    expect(raw.tensors.size).toBe(295);
    expect(raw.metadata).toEqual({ __author__: 'golden' });
    const w = await loadDetectorWeights(bytes);
    expect(w.kind).toBe('detectron2-rcnn-fpn');
    expect(w.config).toEqual({
      stemOut: 64,
      stages: [
        { name: 'res2', blocks: 3, bottleneck: 8, out: 32, inFirst: 64, firstStride: 1 },
        { name: 'res3', blocks: 4, bottleneck: 16, out: 64, inFirst: 32, firstStride: 2 },
        { name: 'res4', blocks: 6, bottleneck: 32, out: 128, inFirst: 64, firstStride: 2 },
        { name: 'res5', blocks: 3, bottleneck: 64, out: 256, inFirst: 128, firstStride: 2 },
      ],
      fpnOut: 32,
      numAnchors: 3,
      boxDim: 4,
      fcDims: [64, 64],
      poolerResolution: 7,
      numClasses: 80,
    });
    // 53 BN-carrying convs: 4 buffers each are dropped and one bias added
    expect(w.tensors.size).toBe(295 - 53 * 4 + 53);
    for (const k of w.tensors.keys()) expect(k).not.toMatch(/\.norm\./);
    expect(w.tensors.get('backbone.bottom_up.res2.0.shortcut.bias')!.shape).toEqual([32]);
    expect(w.tensors.get('roi_heads.box_head.fc1.weight')!.shape).toEqual([64, 32 * 49]);
    // non-BN layers are unchanged
    expect(sameBits(w.tensors.get('backbone.fpn_output2.weight')!.data, raw.tensors.get('backbone.fpn_output2.weight')!.data)).toBe(true);
    // folding follows FrozenBatchNorm2d in float32
    const c = 'backbone.bottom_up.res3.0.conv2';
    const g = (n: string) => raw.tensors.get(`${c}.${n}`)!.data as Float32Array;
    const f = Math.fround;
    const o = 5;
    const scale = f(g('norm.weight')[o]! * f(1 / f(Math.sqrt(f(g('norm.running_var')[o]! + f(1e-5))))));
    expect(w.tensors.get(`${c}.bias`)!.data[o]).toBe(f(g('norm.bias')[o]! - f(g('norm.running_mean')[o]! * scale)));
    expect(w.tensors.get(`${c}.weight`)!.data[o * 16 * 9 + 7]).toBe(f(g('weight')[o * 16 * 9 + 7]! * scale));
  });

  it('protocols 3, 4 and 5 (numpy _reconstruct / _frombuffer + PickleBuffer) give identical tensors', async () => {
    const ws = await Promise.all([3, 4, 5].map((p) => loadDetectorWeights(fixture(`det_p${p}.pkl`))));
    expect(ws[0]!.config.stemOut).toBe(8);
    expect(ws[0]!.config.stages.map((s) => s.out)).toEqual([12, 16, 24, 32]);
    expect(ws[0]!.config.fcDims).toEqual([8, 8]);
    // the stored cell_anchors entry is ignored
    expect([...ws[0]!.tensors.keys()].some((k) => k.includes('anchor_generator'))).toBe(false);
    for (const w of ws.slice(1)) {
      expect(w.config).toEqual(ws[0]!.config);
      expect(toHex(w.fingerprint)).toBe(toHex(ws[0]!.fingerprint));
      for (const [k, t] of ws[0]!.tensors) expect(sameBits(w.tensors.get(k)!.data, t.data), k).toBe(true);
    }
  });

  it('folded stem equals the numpy float32 reference exactly', async () => {
    const w = await loadDetectorWeights(fixture('det_p4.pkl'));
    const rw = npy(fixture('det_folded_stem_weight.npy'));
    const rb = npy(fixture('det_folded_stem_bias.npy'));
    expect(w.tensors.get('backbone.bottom_up.stem.conv1.weight')!.shape).toEqual(rw.shape);
    expect(sameBits(w.tensors.get('backbone.bottom_up.stem.conv1.weight')!.data, rw.data)).toBe(true);
    expect(sameBits(w.tensors.get('backbone.bottom_up.stem.conv1.bias')!.data, rb.data)).toBe(true);
  });

  it('foldFrozenBN uses running_mean 0 / running_var 1 when they are missing and can fold in place', () => {
    const w = new Float32Array([1, 2, 3, 4]);
    const r = foldFrozenBN(w, 2, new Float32Array([2, 1]), new Float32Array([0.5, -1]), undefined, undefined, true);
    expect(r.weight).toBe(w);
    const s = Math.fround(2 * Math.fround(1 / Math.fround(Math.sqrt(Math.fround(1 + Math.fround(1e-5))))));
    expect(r.weight[0]).toBe(Math.fround(1 * s));
    expect(r.bias[0]).toBe(0.5);
  });

  itGolden('round trip: convert -> .safetensors -> load', async () => {
    const w = await loadDetectorWeights(golden('detectron2/A/weights.pkl'));
    const st = convertToSafetensors(w, '0'.repeat(64));
    const back = await loadDetectorWeights(new Blob([st as Uint8Array<ArrayBuffer>]));
    expect(back.config).toEqual(w.config);
    expect(toHex(back.fingerprint)).toBe(toHex(w.fingerprint));
    for (const [k, t] of w.tensors) expect(sameBits(back.tensors.get(k)!.data, t.data), k).toBe(true);
  });

  itGolden('does not modify the caller-owned bytes', async () => {
    const bytes = bytesOf(golden('detectron2/A/weights.pkl'));
    const copy = bytes.slice();
    await loadDetectorWeights(bytes);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(copy))).toBe(0);
    expect(readFileSync(fixture('det_p4.pkl')).length).toBeLessThan(200 * 1024);
  });
});
