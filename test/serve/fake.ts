/**
 * A stand-in decoder for the server's HTTP/WebSocket behaviour (limits, timeouts, origins, shutdown): it validates
 * the container as the real one does and answers after `delayMs` with fixed detections, without a GPU. The real
 * decoder's answers are tested in server.test.ts.
 */
import { Method, readContainer, writeContainer } from '../../src/coder/index.ts';
import type { VcmDecoder } from '../../src/api/index.ts';

export const FAKE_FP = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);

export interface FakeDecoder { decoder: VcmDecoder; calls: number; delayMs: number; live: number }

export function fakeDecoder(delayMs = 5): FakeDecoder {
  const state: FakeDecoder = { decoder: null as never, calls: 0, delayMs, live: 0 };
  const dec = {
    fingerprint: FAKE_FP,
    classNames: ['circle'],
    codecShape: { C: 64, N: 8, M: 8 },
    detectorWeights: { kind: 'fake-detector', fingerprint: FAKE_FP, config: { stemOut: 64 } },
    device: null,
    async decode(bytes: Uint8Array) {
      const f = readContainer(bytes, { expectFingerprint: FAKE_FP });
      state.calls++;
      state.live++;
      try {
        await new Promise((r) => setTimeout(r, state.delayMs));
      } finally {
        state.live--;
      }
      return {
        detections: { boxes: Float32Array.from([1, 2, 3, 4]), scores: Float32Array.from([0.5]), classes: Int32Array.from([0]) },
        sizes: { original: f.originalSize, resized: f.resizedSize, padded: [f.featureShape[1] * 4, f.featureShape[2] * 4] },
        timings: { fake: state.delayMs },
      };
    },
    async warmup() { return {}; },
    gpuBuffers: () => ({ live: state.live, free: 0, liveBytes: 0, freeBytes: 0, created: 0 }),
    dispose() { /* the test owns it */ },
  };
  state.decoder = dec as unknown as VcmDecoder;
  return state;
}

/** A valid method-1 stream for the fake decoder: `h`×`w` image, stem h/4×w/4 padded to multiples of 64. */
export function fakeStream(h = 128, w = 192, fp = FAKE_FP): Uint8Array {
  const fh = Math.ceil(h / 4), fw = Math.ceil(w / 4);
  const ph = Math.ceil(fh / 64) * 64, pw = Math.ceil(fw / 64) * 64;
  const t = Math.floor((ph - fh) / 2), l = Math.floor((pw - fw) / 2);
  return writeContainer({
    mode: 'portable', method: Method.PadCrop, fingerprint: fp, originalSize: [h, w], resizedSize: [h, w], featureShape: [64, fh, fw],
    padding: [t, l, ph - fh - t, pw - fw - l], mn: 0, mx: 1, zShape: [ph / 64, pw / 64],
    yString: new Uint8Array(8), zString: new Uint8Array(8),
  });
}
