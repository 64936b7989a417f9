/**
 * A stand-in decoder for the server's HTTP/WebSocket behaviour (limits, timeouts, origins, shutdown): it validates
 * the container as the real one does and answers after `delayMs` with fixed detections, without a GPU. The real
 * decoder's answers are tested in server.test.ts.
 */
import { checkFingerprint, Method, readContainer, writeContainer } from '../../src/coder/index.ts';
import type { ParsedStream, VcmDecoder } from '../../src/api/index.ts';
import { parsedFields } from '../../src/api/inspect-stream.ts';

export const FAKE_FP = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);

export interface FakeDecoder {
  decoder: VcmDecoder;
  calls: number;
  delayMs: number;
  live: number;
}

export function fakeDecoder(delayMs = 5): FakeDecoder {
  const state: FakeDecoder = { decoder: null as never, calls: 0, delayMs, live: 0 };
  const dec = {
    fingerprint: FAKE_FP,
    classNames: ['circle'],
    codecShape: { C: 64, N: 8, M: 8 },
    detectorWeights: { kind: 'fake-detector', fingerprint: FAKE_FP, config: { stemOut: 64 } },
    device: null,
    async decode(stream: Uint8Array | ParsedStream) {
      // as decodeFeatures: the fields the receiver parsed (fingerprint checked), or the bytes read here
      const parsed = parsedFields(stream);
      if (parsed) checkFingerprint(parsed.fingerprint, FAKE_FP);
      const f = parsed ?? readContainer(stream as Uint8Array, { expectFingerprint: FAKE_FP });
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
    async warmup() {
      return {};
    },
    gpuBuffers: () => ({ live: state.live, free: 0, liveBytes: 0, freeBytes: 0, created: 0 }),
    dispose() {
      /* the test owns it */
    },
  };
  state.decoder = dec as unknown as VcmDecoder;
  return state;
}

/** A valid method-1 stream for the fake decoder: `h`×`w` image, stem h/4×w/4 padded to multiples of 64. */
export function fakeStream(h = 128, w = 192, fp = FAKE_FP): Uint8Array {
  const fh = Math.ceil(h / 4),
    fw = Math.ceil(w / 4);
  const ph = Math.ceil(fh / 64) * 64,
    pw = Math.ceil(fw / 64) * 64;
  const t = Math.floor((ph - fh) / 2),
    l = Math.floor((pw - fw) / 2);
  return writeContainer({
    mode: 'portable',
    method: Method.PadCrop,
    fingerprint: fp,
    originalSize: [h, w],
    resizedSize: [h, w],
    featureShape: [64, fh, fw],
    padding: [t, l, ph - fh - t, pw - fw - l],
    mn: 0,
    mx: 1,
    zShape: [ph / 64, pw / 64],
    yString: new Uint8Array(8),
    zString: new Uint8Array(8),
  });
}

/** A WebSocket client on a raw TCP socket, so a test can stop reading (what `ws` would not let it do). */
export async function rawWebSocket(
  base: string,
  path = '/v1/stream',
  headers: Record<string, string> = {},
): Promise<{ socket: import('node:net').Socket; status: number; head: string }> {
  const { connect } = await import('node:net');
  const u = new URL(base);
  const socket = connect(Number(u.port), u.hostname);
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', j);
  });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
  );
  let buf = Buffer.alloc(0);
  const head = await new Promise<string>((r, j) => {
    const on = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      socket.off('data', on);
      socket.pause();
      const rest = buf.subarray(i + 4);
      if (rest.length) socket.unshift(rest);
      r(buf.subarray(0, i).toString());
    };
    socket.on('data', on);
    socket.once('error', j);
    setTimeout(() => j(new Error('no handshake answer')), 5000).unref();
  });
  return { socket, status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head };
}

/** One masked client frame (opcode 2: binary). */
export function clientFrame(payload: Uint8Array, opcode = 2): Buffer {
  const n = payload.length;
  const len = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload).map((b, i) => b ^ mask[i & 3]!);
  return Buffer.concat([len, mask, body]);
}

/** Server frames (unmasked) in a byte buffer: text payloads and the close code, if any. */
export function serverFrames(b: Buffer): { texts: string[]; closeCode: number | null } {
  const texts: string[] = [];
  let closeCode: number | null = null;
  let o = 0;
  while (o + 2 <= b.length) {
    const op = b[o]! & 15;
    let n = b[o + 1]! & 127,
      h = 2;
    if (n === 126) {
      n = b.readUInt16BE(o + 2);
      h = 4;
    } else if (n === 127) {
      n = Number(b.readBigUInt64BE(o + 2));
      h = 10;
    }
    if (o + h + n > b.length) break;
    const p = b.subarray(o + h, o + h + n);
    if (op === 1) texts.push(p.toString());
    if (op === 8 && p.length >= 2) closeCode = p.readUInt16BE(0);
    o += h + n;
  }
  return { texts, closeCode };
}
