/** The detections JSON (docs/detections-json.md) and inspectStream / `webvcm inspect x.vcm`: pure, no GPU. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DETECTIONS_FORMAT,
  DETECTIONS_VERSION,
  DetectionsJsonError,
  detectionsFromJson,
  detectionsToJson,
} from '../../src/api/detections-json.ts';
import { inspectStream, isVcmStream } from '../../src/api/inspect-stream.ts';
import { ContainerError, Method, writeContainer, type ContainerFields } from '../../src/coder/container.ts';

const dets = {
  boxes: Float32Array.from([1.5, 2, 30.25, 40, 0, 0, 5, 5]),
  scores: Float32Array.from([0.9, 0.3]),
  classes: Int32Array.from([2, 7]),
};
const sizes = { original: [100, 150] as [number, number], resized: [128, 192] as [number, number], padded: [128, 192] as [number, number] };

describe('detections JSON', () => {
  it('has the documented keys in order, labels from the class names (class_<k> past their end), and round-trips', () => {
    const j = detectionsToJson(dets, ['a', 'b', 'c'], sizes);
    expect(Object.keys(j)).toEqual(['format', 'version', 'boxes', 'scores', 'classes', 'labels', 'sizes']);
    expect([j.format, j.version]).toEqual([DETECTIONS_FORMAT, DETECTIONS_VERSION]);
    expect(j.boxes).toEqual([
      [1.5, 2, 30.25, 40],
      [0, 0, 5, 5],
    ]);
    expect(j.labels).toEqual(['c', 'class_7']);
    expect(j.scores).toEqual(Array.from(dets.scores));
    const back = detectionsFromJson(JSON.parse(JSON.stringify({ ...j, fingerprint: 'ab', timings: { x: 1 } })));
    expect(back.json).toEqual(j); // extra keys dropped
    expect(back.detections.boxes).toEqual(dets.boxes);
    expect(back.detections.scores).toEqual(dets.scores);
    expect(back.detections.classes).toEqual(dets.classes);
  });

  it('rejects other formats, other versions and malformed fields with a typed error of kind input', () => {
    const j = detectionsToJson(dets, [], sizes);
    const bad: unknown[] = [
      null,
      [],
      { ...j, format: 'x' },
      { ...j, version: 2 },
      { ...j, scores: [0.9] },
      {
        ...j,
        boxes: [
          [1, 2, 3],
          [1, 2, 3, 4],
        ],
      },
      { ...j, classes: [1, -1] },
      { ...j, labels: ['a'] },
      { ...j, sizes: { original: [1, 1] } },
      { ...j, scores: [0.9, Number.NaN] },
    ];
    for (const b of bad) {
      const e = (() => {
        try {
          detectionsFromJson(b);
        } catch (x) {
          return x;
        }
        return null;
      })();
      expect(e, JSON.stringify(b)).toBeInstanceOf(DetectionsJsonError);
      expect((e as DetectionsJsonError).kind).toBe('input');
    }
  });
});

function stream(method: 0 | 1 | 2): Uint8Array {
  const geometry =
    method === Method.Resize
      ? ({ originalSize: [200, 300], resizedSize: [256, 256], featureShape: [64, 64, 64], padding: [0, 0, 0, 0] } as const)
      : ({ originalSize: [100, 150], resizedSize: [128, 192], featureShape: [64, 32, 48], padding: [0, 0, 32, 16] } as const);
  return writeContainer({
    mode: 'portable',
    method,
    fingerprint: Uint8Array.from({ length: 16 }, (_, i) => i * 17),
    ...(structuredClone(geometry) as object as Pick<ContainerFields, 'originalSize' | 'resizedSize' | 'featureShape' | 'padding'>),
    mn: -1.5,
    mx: 3.25,
    zShape: [1, 1],
    yString: new Uint8Array(36),
    zString: new Uint8Array(8),
  });
}

describe('inspectStream', () => {
  it('reads the header, the model, the sizes and the rate', () => {
    const b = stream(Method.PadCrop);
    expect(isVcmStream(b)).toBe(true);
    const r = inspectStream(b);
    expect(r.model).toEqual({
      kind: 'compressai-hyperprior',
      architecture: 'bmshj2018-hyperprior',
      gain: 1,
      channels: 64,
      fingerprint: Array.from({ length: 16 }, (_, i) => (i * 17).toString(16).padStart(2, '0')).join(''),
    });
    expect([r.mode, r.method, r.methodName, r.version]).toEqual(['portable', 1, 'pad-crop', 1]); // a bmshj2018-hyperprior stream is version 1
    expect(r.sizes).toEqual({
      original: [100, 150],
      resized: [128, 192],
      padded: [128, 192],
      features: [64, 32, 48],
      padding: [0, 0, 32, 16],
      z: [1, 1],
    });
    expect(r.quant).toEqual({ min: -1.5, max: 3.25 });
    expect(r.bytes).toEqual({ total: b.length, header: 92, y: 36, z: 8 });
    expect(r.bpp.container).toBeCloseTo((8 * b.length) / 15000, 12);
    expect(r.bpp.strings).toBeCloseTo((8 * 44) / 15000, 12);
    expect(inspectStream(stream(Method.Plain)).sizes.padded).toBeUndefined();
    expect(() => inspectStream(b.subarray(0, b.length - 1))).toThrow(ContainerError);
    expect(isVcmStream(new Uint8Array([0x80, 2, 3, 4]))).toBe(false);
  });

  it('`webvcm inspect x.vcm` prints it (text and --json)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-inspect-'));
    const file = join(dir, 'x.vcm');
    writeFileSync(file, stream(Method.Resize));
    const run = (...a: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((res) => {
        execFile(process.execPath, ['bin/webvcm.js', 'inspect', ...a], { encoding: 'utf8' }, (e, out, err) =>
          res({ code: e ? Number(e.code ?? 1) : 0, out, err }),
        );
      });
    const t = await run(file);
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/model {8}compressai-hyperprior \(bmshj2018-hyperprior\), 64 channels/);
    expect(t.out).toMatch(/method {7}2 \(resize-256\)/);
    expect(t.out).toMatch(/image {8}200x300 -> resized 256x256, detector input 256x256/);
    expect(t.out).toMatch(/rate {9}\d+\.\d{4} bpp \(container\), \d+\.\d{4} bpp \(strings\)/);
    const j = await run(file, '--json');
    expect(j.code, j.err).toBe(0);
    expect(JSON.parse(j.out)).toEqual({ file, ...inspectStream(stream(Method.Resize)) });
  });
});
