// The per-frame rate controller (src/client/rate-controller.ts) alone, and inside createRemoteDecoder's stream with
// real coded frames of a variable-rate codec (the golden bmshj2018-hyperprior-vbr model on the CPU reference): the
// budget is halved mid-stream and the bytes per frame follow within 10 frames.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Method, writeContainer } from '../../src/coder/index.ts';
import { RateController } from '../../src/client/rate-controller.ts';
import { createRemoteDecoder } from '../../src/client/remote.ts';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import type { CpuTensor } from '../../src/cpu/backend.ts';
import { readNpy } from '../../src/io/npy.ts';
import { HyperpriorCodec, type Analysed } from '../../src/model/codec/codec.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { codecWeightsFromRaw } from '../../src/model/weights/load.ts';
import { FIXTURES_ROOT } from '../helpers/golden.ts';

const D = resolve(FIXTURES_ROOT, 'codec-family');

/** A WebSocket stand-in: opens at once, records what is sent, answers nothing. */
function fakeSocket(sent: Uint8Array[]): typeof WebSocket {
  class Fake {
    static CLOSED = 3;
    readyState = 1;
    binaryType = 'arraybuffer';
    onopen: (() => void) | null = null;
    onerror: (() => void) | null = null;
    onclose: (() => void) | null = null;
    onmessage: ((ev: MessageEvent) => void) | null = null;
    constructor(_url: string) { queueMicrotask(() => this.onopen?.()); }
    send(b: Uint8Array) { sent.push(b); }
    addEventListener(_t: string, f: () => void) { queueMicrotask(f); }
    close() { this.readyState = 3; }
  }
  return Fake as unknown as typeof WebSocket;
}

describe('rate controller', () => {
  it('converges on a synthetic rate curve (bytes = 4000·g^1.5) and follows a halved budget within 10 frames', () => {
    const rc = new RateController({ budgetKbps: 160, fps: 10, minGain: 0.1, maxGain: 1 });
    const bytesAt = (g: number) => 4000 * g ** 1.5;
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 20) rc.setBudget(80);
      const g = rc.nextGain();
      const b = bytesAt(g);
      sizes.push(b);
      rc.update(b, g);
    }
    for (let i = 10; i < 20; i++) expect(Math.abs(sizes[i]! / 2000 - 1)).toBeLessThan(0.03);
    for (let i = 30; i < 40; i++) expect(Math.abs(sizes[i]! / 1000 - 1)).toBeLessThan(0.03);
    expect(rc.stats().targetBytes).toBe(1000);
  });
  it('clamps to the gain range and rejects bad input', () => {
    const rc = new RateController({ budgetKbps: 1, fps: 10, minGain: 0.1, maxGain: 1 });
    for (let i = 0; i < 5; i++) rc.update(10_000, rc.nextGain());
    expect(rc.nextGain()).toBe(Math.fround(0.1));
    expect(() => new RateController({ budgetKbps: 0, minGain: 0.1, maxGain: 1 })).toThrow(/budgetKbps/);
    expect(() => new RateController({ budgetKbps: 1, minGain: 1, maxGain: 0.1 })).toThrow(/maxGain/);
    expect(() => rc.update(0, 0.5)).toThrow(/frame size/);
    expect(() => rc.setBudget(NaN)).toThrow(/budgetKbps/);
  });
  it('measures fps from the send times when none is given', () => {
    const rc = new RateController({ budgetKbps: 80, minGain: 0.1, maxGain: 1 });
    for (let i = 0; i < 40; i++) rc.update(500, 0.5, i * 50); // 20 frames per second
    expect(rc.stats().fps).toBeCloseTo(20, 1);
    expect(Math.abs(rc.stats().kbps! / 80 - 1)).toBeLessThan(0.02);
  });
});

describe('createRemoteDecoder stream with a bitrate budget (real VBR frames)', () => {
  it('halving the budget mid-stream: the bytes per frame follow within 10 frames', async () => {
    const cpu = new CpuCodecBackend();
    const codec = await HyperpriorCodec.create(codecWeightsFromRaw(readCheckpoint(new Uint8Array(readFileSync(resolve(D, 'bmshj2018-hyperprior-vbr/model.pth.tar'))))), cpu);
    const u8 = readNpy(new Uint8Array(readFileSync(resolve(D, 'x_u8.npy')))).data as Uint8Array;
    const [C, H, W] = [64, 64, 128];
    // four "video frames": the golden input circularly shifted (a panning camera); each analysed once
    const frames: Analysed<CpuTensor>[] = [];
    for (let f = 0; f < 4; f++) {
      const x = new Float32Array(C * H * W);
      for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) x[(c * H + y) * W + xx] = Math.fround(u8[(c * H + y) * W + ((xx + 9 * f) % W)]! / 255);
      frames.push(await codec.analyse(x, { shape: [C, H, W] }));
    }
    const gains = codec.gains;
    const sent: Uint8Array[] = [];
    const remote = createRemoteDecoder({ url: 'http://127.0.0.1:1', WebSocket: fakeSocket(sent) });
    const fps = 10;
    const s = await remote.stream({ onMessage: () => {}, rate: { budgetKbps: 28, fps, minGain: Math.min(...gains), maxGain: Math.max(...gains) } });
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 20) s.setBudget(14);
      const r = await codec.code(frames[i % 4]!, s.nextScale()!);
      const bytes = writeContainer({
        mode: 'compat', method: Method.Plain, fingerprint: codec.fingerprint, originalSize: [H, W], resizedSize: [H, W], featureShape: [C, H, W],
        padding: [0, 0, 0, 0], mn: 0, mx: 1, zShape: r.zShape, model: codec.architecture, gain: r.gain, yString: r.strings[0], zString: r.strings[1],
      });
      s.send(i, bytes);
      sizes.push(bytes.length);
    }
    await s.close();
    for (const a of frames) a.release();
    expect(sent.length).toBe(40);
    const target = (kbps: number) => (kbps * 1000) / 8 / fps;
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    // within 10 frames of each budget: every frame within 25 % (content varies frame to frame), the average within 10 %
    const before = sizes.slice(10, 20), after = sizes.slice(30, 40);
    for (const b of before) expect(Math.abs(b / target(28) - 1)).toBeLessThan(0.25);
    for (const b of after) expect(Math.abs(b / target(14) - 1)).toBeLessThan(0.25);
    expect(Math.abs(mean(before) / target(28) - 1)).toBeLessThan(0.1);
    expect(Math.abs(mean(after) / target(14) - 1)).toBeLessThan(0.1);
    expect(s.rateStats()!.budgetKbps).toBe(14);
    console.log(`frame bytes: budget 28 kbit/s (${target(28)} B) → ${before.join(' ')}; 14 kbit/s (${target(14)} B) → ${after.join(' ')}`);
  }, 120_000);
});
