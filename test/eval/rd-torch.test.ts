// The pure parts of the PyTorch reference runner (tools/rd-torch-runner.ts): the worker protocol's parsing, rows →
// worker points, and the container a feature row is counted with. The worker itself needs Python + torch, which CI
// does not have; docs/eval.md reports its agreement with `webvcm eval`.
import { describe, expect, it } from 'vitest';
import {
  featureContainer,
  parseDets,
  parseFeatures,
  parseHello,
  parseReply,
  wireImage,
  workerPoints,
  WorkerProtocolError,
  type CodecInfo,
  type WorkerFeatureRow,
} from '../../tools/rd-torch-runner.ts';
import { CONTAINER_HEADER_BYTES, CONTAINER_HEADER_BYTES_V2, readContainer } from '../../src/coder/index.ts';
import { planRows } from '../../src/eval/experiment.ts';
import { ratePoints } from '../../src/eval/rd-runner.ts';

const dets = { boxes: [1, 2, 3, 4.5], scores: [0.9], classes: [2] };
const b64 = (a: number[]) => Buffer.from(a).toString('base64');
const wireRow = {
  dets,
  y: b64([1, 2, 3, 4, 5]),
  z: b64([9, 8]),
  zShape: [2, 2],
  featureShape: [64, 80, 104],
  padding: [24, 12, 24, 12],
  mn: 0,
  mx: 12.520694732666016,
  resized: [320, 404],
};

describe('worker protocol', () => {
  it('parses a reply line and turns a worker error into an Error', () => {
    expect(parseReply('{"ok": 1}')).toEqual({ ok: 1 });
    expect(() => parseReply('{"error": "ValueError: bad"}')).toThrow(/PyTorch worker: ValueError: bad/);
    expect(() => parseReply('Traceback (most recent call last):')).toThrow(WorkerProtocolError);
    expect(() => parseReply('[1, 2]')).toThrow(/expected an object/);
  });

  it('parses the hello line', () => {
    expect(parseHello({ ready: true, numClasses: 8, classNames: null, codecs: [{ levels: 0 }, { levels: 6 }] })).toEqual({
      numClasses: 8,
      classNames: null,
      levels: [0, 6],
    });
    expect(() => parseHello({ numClasses: 8, classNames: null, codecs: [] })).toThrow(/ready/);
    expect(() => parseHello({ ready: true, numClasses: 0, classNames: null, codecs: [] })).toThrow(/numClasses/);
    expect(() => parseHello({ ready: true, numClasses: 2, classNames: [1], codecs: [] })).toThrow(/classNames/);
    expect(() => parseHello({ ready: true, numClasses: 2, classNames: null, codecs: [{ levels: -1 }] })).toThrow(/levels/);
  });

  it('parses detections into typed arrays and refuses inconsistent ones', () => {
    const d = parseDets(dets, 'x');
    expect(d.boxes).toBeInstanceOf(Float32Array);
    expect(Array.from(d.boxes)).toEqual([1, 2, 3, 4.5]);
    expect(d.classes).toBeInstanceOf(Int32Array);
    expect(() => parseDets({ boxes: [1, 2, 3], scores: [0.5], classes: [0] }, 'x')).toThrow(/1 scores/);
    expect(() => parseDets({ boxes: [1, 2, 3, 'a'], scores: [0.5], classes: [0] }, 'x')).toThrow(/finite numbers/);
  });

  it('parses a features reply, decoding the strings, and needs every asked row', () => {
    const f = parseFeatures({ size: [320, 404], reference: dets, rows: { 'm1/0': wireRow } }, ['m1/0'], true);
    expect(f.size).toEqual([320, 404]);
    expect(f.reference!.scores.length).toBe(1);
    const r = f.rows.get('m1/0')!;
    expect(Array.from(r.y)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(r.z)).toEqual([9, 8]);
    expect(r.padding).toEqual([24, 12, 24, 12]);
    expect(() => parseFeatures({ size: [320, 404], reference: null, rows: {} }, ['m1/0'], false)).toThrow(/no row m1\/0/);
    expect(() => parseFeatures({ size: [320, 404], rows: { a: { ...wireRow, zShape: [2] } } }, ['a'], false)).toThrow(/zShape/);
    expect(() => parseFeatures({ size: [320, 404], rows: { a: { ...wireRow, mx: 'x' } } }, ['a'], false)).toThrow(/mn\/mx/);
  });
});

describe('images on the wire', () => {
  it('sends the BGR bytes of the view, not of its whole buffer', () => {
    const buf = Uint8Array.from({ length: 20 }, (_, i) => i);
    const w = wireImage({ height: 1, width: 2, data: buf.subarray(4, 10) });
    expect(w).toMatchObject({ height: 1, width: 2 });
    expect(Array.from(Buffer.from(w.bgr, 'base64'))).toEqual([4, 5, 6, 7, 8, 9]);
  });
});

describe('rows → worker points', () => {
  it('maps every feature row to its checkpoint and VBR level, in row order', () => {
    // a fixed-rate checkpoint, then a 3-level VBR one: rate points 0 (fixed), 1..3 (levels 0..2)
    const points = ratePoints([[], [0.5, 1, 2]]);
    const rows = planRows({
      methods: [1, 2],
      codecNames: ['a', 'b@level0', 'b@level1', 'b@level2'],
      anchors: [{ codec: 'jpeg', qualities: [10] }],
    });
    const pts = workerPoints(rows, points, [0, 3]);
    expect(pts).toEqual([
      { key: 'm1/0', method: 1, codec: 0, level: null },
      { key: 'm1/1', method: 1, codec: 1, level: 0 },
      { key: 'm1/2', method: 1, codec: 1, level: 1 },
      { key: 'm1/3', method: 1, codec: 1, level: 2 },
      { key: 'm2/0', method: 2, codec: 0, level: null },
      { key: 'm2/1', method: 2, codec: 1, level: 0 },
      { key: 'm2/2', method: 2, codec: 1, level: 1 },
      { key: 'm2/3', method: 2, codec: 1, level: 2 },
    ]);
    expect(() => workerPoints(rows, points.slice(0, 2), [0, 3])).toThrow(/no rate point 2/);
    // --scales points are not levels: the worker codes at levels only
    expect(() => workerPoints(rows, ratePoints([[], [0.5, 1, 2]], [0.7]), [0, 3])).toThrow(/not a level/);
  });
});

describe('feature-row container', () => {
  const fp = Uint8Array.from({ length: 16 }, (_, i) => i);
  // the strings must have valid rANS lengths (multiples of 4, at least 8) for the container writer
  const wire = { ...wireRow, y: b64(Array.from({ length: 12 }, (_, i) => i + 1)), z: b64([9, 8, 7, 6, 5, 4, 3, 2]) };
  const row: WorkerFeatureRow = parseFeatures({ size: [320, 404], rows: { a: wire } }, ['a'], false).rows.get('a')!;

  it('is the v1 header plus the strings for a fixed-rate codec, and reads back', () => {
    const codec: CodecInfo = { fingerprint: fp, model: 'bmshj2018-hyperprior', gains: [] };
    const bytes = featureContainer(row, 1, codec, undefined, [320, 404]);
    expect(bytes.length).toBe(CONTAINER_HEADER_BYTES + 12 + 8);
    const f = readContainer(bytes, { expectFingerprint: fp });
    expect(f).toMatchObject({ method: 1, originalSize: [320, 404], resizedSize: [320, 404], featureShape: [64, 80, 104] });
    expect(f.padding).toEqual([24, 12, 24, 12]);
    expect(f.zShape).toEqual([2, 2]);
    expect(f.mx).toBe(Math.fround(12.520694732666016));
    expect(Array.from(f.yString)).toEqual(Array.from(row.y));
    expect(Array.from(f.zString)).toEqual(Array.from(row.z));
  });

  it('carries the level gain (v2 header) for a variable-rate codec', () => {
    const g = Math.fround(0.37);
    const codec: CodecInfo = { fingerprint: fp, model: 'bmshj2018-hyperprior-vbr', gains: [g] };
    const m2 = {
      ...row,
      featureShape: [64, 64, 128] as [number, number, number],
      padding: [0, 0, 0, 0] as [number, number, number, number],
      zShape: [1, 2] as [number, number],
      resized: [256, 512] as [number, number],
    };
    const bytes = featureContainer(m2, 2, codec, g, [320, 404]);
    expect(bytes.length).toBe(CONTAINER_HEADER_BYTES_V2 + 12 + 8);
    const f = readContainer(bytes);
    expect(f.gain).toBe(g);
    expect(f.model).toBe('bmshj2018-hyperprior-vbr');
    expect(f.method).toBe(2);
  });
});
