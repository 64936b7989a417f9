import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WeightSourceError, loadCodecWeights, loadDetectorWeights, readSource, toHex } from '../../src/model/weights/index.ts';
import { bytesOf, fixture } from './helpers.ts';
import { goldenOrFixture } from '../helpers/golden.ts';

describe('weight sources', () => {
  it('file path, URL object, ArrayBuffer and Blob give the same weights; Blob reports progress', async () => {
    const path = goldenOrFixture('compressai/keys/tiny_keys_current.pth.tar');
    const bytes = bytesOf(path);
    const a = await loadCodecWeights(path);
    const b = await loadCodecWeights(new URL(`file://${path}`));
    const c = await loadCodecWeights(bytes.slice().buffer);
    const seen: number[] = [];
    const d = await loadCodecWeights(new Blob([bytes as Uint8Array<ArrayBuffer>]), { onProgress: (done, total) => (expect(total).toBe(bytes.length), seen.push(done)) });
    for (const w of [b, c, d]) expect(toHex(w.fingerprint)).toBe(toHex(a.fingerprint));
    expect(seen.at(-1)).toBe(bytes.length);
  });

  it('http URL: streamed download with progress (with and without Content-Length), HTTP errors', async () => {
    const body = bytesOf(fixture('det_p4.pkl'));
    const server = createServer((req, res) => {
      if (req.url === '/missing') {
        res.statusCode = 404;
        res.end('nope');
        return;
      }
      if (req.url === '/sized') res.setHeader('content-length', String(body.length));
      let off = 0;
      const step = (): void => {
        if (off >= body.length) return void res.end();
        res.write(body.subarray(off, off + 16384));
        off += 16384;
        setImmediate(step);
      };
      step();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const progress: [number, number | undefined][] = [];
      const w = await loadDetectorWeights(`${base}/sized`, { onProgress: (d, t) => progress.push([d, t]) });
      expect(w.config.stemOut).toBe(8);
      expect(progress.length).toBeGreaterThan(3);
      expect(progress.at(-1)).toEqual([body.length, body.length]);
      for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
      const chunked = await readSource(`${base}/chunked`, { onProgress: (_d, t) => expect(t).toBeUndefined() });
      expect(Buffer.compare(Buffer.from(chunked), Buffer.from(body))).toBe(0);
      await expect(loadDetectorWeights(`${base}/missing`)).rejects.toThrow(WeightSourceError);
      await expect(loadDetectorWeights(`${base}/missing`)).rejects.toThrow(/HTTP 404/);
    } finally {
      await new Promise((r) => server.close(r));
    }
    await expect(loadCodecWeights('/nonexistent/model.pth.tar')).rejects.toThrow(/cannot read/);
  });
});
