import { describe, expect, it } from 'vitest';
import {
  ArchitectureError,
  CheckpointError,
  LegacyTorchFormatError,
  NonFiniteWeightError,
  TruncatedCheckpointError,
  UnknownFormatError,
  ValueRangeError,
  WrongModelKindError,
  ZipFormatError,
  codecWeightsFromRaw,
  convertToSafetensors,
  detectorWeightsFromRaw,
  loadCodecWeights,
  loadDetectorWeights,
  readCheckpoint,
  writeSafetensors,
} from '../../src/model/weights/index.ts';
import { bytesOf, fixture } from './helpers.ts';
import { goldenOrFixture } from '../helpers/golden.ts';

const tiny = (): Uint8Array => bytesOf(goldenOrFixture('compressai/keys/tiny_keys_current.pth.tar'));

async function rejects(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('bad input gives clear typed errors', () => {
  it('truncated torch zip', async () => {
    const b = tiny();
    const e = await rejects(loadCodecWeights(b.subarray(0, b.length >> 1)));
    expect(e).toBeInstanceOf(TruncatedCheckpointError);
    expect(e.message).toMatch(/truncated/);
    expect(() => readCheckpoint(new Uint8Array(0))).toThrow(TruncatedCheckpointError);
  });

  it('bad zip entries: damaged local header, unsupported compression method, missing data.pkl', () => {
    const b = tiny();
    const text = new TextDecoder('latin1').decode(b);
    // damage the local header of storage entry data/3
    const name = 'tiny_keys_current.pth/data/3';
    const at = text.indexOf(name) - 30;
    const bad = b.slice();
    bad[at] = 0x00;
    expect(() => readCheckpoint(bad)).toThrow(ZipFormatError);
    expect(() => readCheckpoint(bad)).toThrow(/bad local header signature/);
    // central directory record of the same entry: set method 99
    const cen = text.lastIndexOf(name) - 46;
    const bad2 = b.slice();
    bad2[cen + 10] = 99;
    expect(() => readCheckpoint(bad2)).toThrow(/unsupported compression method 99/);
    // rename data.pkl everywhere
    const bad3 = b.slice();
    for (let i = text.indexOf('data.pkl'); i >= 0; i = text.indexOf('data.pkl', i + 1)) bad3[i] = 0x44; // 'Data.pkl'
    expect(() => readCheckpoint(bad3)).toThrow(/no <prefix>\/data\.pkl/);
  });

  it('legacy (pre-zip) torch files ask for a re-save', () => {
    const legacy = new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02]);
    expect(() => readCheckpoint(legacy)).toThrow(LegacyTorchFormatError);
    expect(() => readCheckpoint(legacy)).toThrow(/re-save it with a newer torch/);
  });

  it('unknown formats', () => {
    expect(() => readCheckpoint(new TextEncoder().encode('this is not a checkpoint at all'))).toThrow(UnknownFormatError);
  });

  it('NaN / Inf weights are reported with the tensor names', () => {
    const raw = readCheckpoint(tiny().slice());
    (raw.tensors.get('g_a.2.weight')!.data as Float32Array)[3] = NaN;
    (raw.tensors.get('h_s.4.bias')!.data as Float32Array)[0] = -Infinity;
    let err: unknown;
    try {
      codecWeightsFromRaw(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteWeightError);
    expect((err as Error).message).toMatch(/g_a\.2\.weight \(1 NaN, 0 Inf, first at flat index 3\)/);
    expect((err as Error).message).toMatch(/h_s\.4\.bias \(0 NaN, 1 Inf/);
    const det = readCheckpoint(bytesOf(fixture('det_p4.pkl')));
    (det.tensors.get('backbone.bottom_up.res4.2.conv2.norm.running_var')!.data as Float32Array)[1] = Infinity;
    expect(() => detectorWeightsFromRaw(det)).toThrow(/res4\.2\.conv2\.norm\.running_var/);
  });

  it('mismatched shapes, missing and unexpected tensors: one error lists them all', () => {
    const raw = readCheckpoint(tiny());
    const t = raw.tensors;
    t.set('g_a.2.weight', { dtype: 'float32', shape: [16, 16, 3, 3], data: new Float32Array(16 * 16 * 9) });
    t.delete('h_s.4.bias');
    t.set('extra.thing', { dtype: 'float32', shape: [1], data: new Float32Array(1) });
    t.set('entropy_bottleneck._offset', { dtype: 'float32', shape: [16], data: new Float32Array(16) });
    let err: unknown;
    try {
      codecWeightsFromRaw(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArchitectureError);
    const p = (err as ArchitectureError).problems;
    expect(p).toContain("'g_a.2.weight' has shape [16, 16, 3, 3], expected [16, 16, 5, 5]");
    expect(p.some((x) => x.startsWith("missing tensor 'h_s.4.bias'"))).toBe(true);
    expect(p).toContain("unexpected tensor 'extra.thing'");
    expect(p).toContain("'entropy_bottleneck._offset' has dtype float32, expected int32");
    expect((err as Error).message).toMatch(/4 problem\(s\)/);
  });

  it('detector: wrong widths between stages and a broken box head', () => {
    const raw = readCheckpoint(bytesOf(fixture('det_p3.pkl')));
    raw.tensors.set('backbone.fpn_lateral3.weight', { dtype: 'float32', shape: [8, 15, 1, 1], data: new Float32Array(120) });
    raw.tensors.set('roi_heads.box_predictor.bbox_pred.bias', { dtype: 'float32', shape: [4], data: new Float32Array(4) });
    expect(() => detectorWeightsFromRaw(raw)).toThrow(ArchitectureError);
    try {
      detectorWeightsFromRaw(raw);
    } catch (e) {
      expect((e as ArchitectureError).problems).toEqual([
        "'backbone.fpn_lateral3.weight' has shape [8, 15, 1, 1], expected [8, 16, 1, 1]",
        "'roi_heads.box_predictor.bbox_pred.bias' has shape [4], expected [320]",
      ]);
    }
  });

  it('wrong model kind', async () => {
    await expect(loadDetectorWeights(tiny())).rejects.toThrow(WrongModelKindError);
    await expect(loadCodecWeights(bytesOf(fixture('det_p4.pkl')))).rejects.toThrow(/holds detectron2-rcnn-fpn weights/);
    await expect(loadCodecWeights(bytesOf(fixture('torch_odd.pth')))).rejects.toThrow(/neither CompressAI nor Detectron2/);
  });

  it('int64 values outside int32 and float64 overflowing float32', () => {
    const big = writeSafetensors(new Map(), {});
    expect(readCheckpoint(big).tensors.size).toBe(0);
    const mk = (dtype: string, bytes: Uint8Array): Uint8Array => {
      const h = new TextEncoder().encode(JSON.stringify({ x: { dtype, shape: [1], data_offsets: [0, 8] } }).padEnd(64));
      const out = new Uint8Array(8 + h.length + 8);
      new DataView(out.buffer).setUint32(0, h.length, true);
      out.set(h, 8);
      out.set(bytes, 8 + h.length);
      return out;
    };
    const i64 = new Uint8Array(8);
    new DataView(i64.buffer).setBigInt64(0, 2n ** 40n, true);
    expect(() => readCheckpoint(mk('I64', i64))).toThrow(ValueRangeError);
    const f64 = new Uint8Array(8);
    new DataView(f64.buffer).setFloat64(0, 1e300, true);
    expect(() => readCheckpoint(mk('F64', f64))).toThrow(/overflows float32/);
  });

  it('damaged converted files: truncated data, bad header, tampered tensor', async () => {
    const w = await loadCodecWeights(tiny());
    const st = convertToSafetensors(w, 'x');
    await expect(loadCodecWeights(st.subarray(0, st.length - 100))).rejects.toThrow(TruncatedCheckpointError);
    const badJson = st.slice();
    badJson[9] = 0x5b; // '['
    await expect(loadCodecWeights(badJson)).rejects.toThrow(CheckpointError);
    const tampered = st.slice();
    tampered[tampered.length - 5] ^= 0x01; // flips a bit of the last tensor
    const e = await rejects(loadCodecWeights(tampered));
    expect(e.message).toMatch(/fingerprint|CDF|problem/);
  });
});
