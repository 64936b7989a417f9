/**
 * One detections JSON (docs/detections-json.md): `webvcm decode` (the CLI, through bin/webvcm.js), the server's
 * POST /v1/detect and createRemoteDecoder give the same object for the same stream, and it equals detectionsToJson of
 * a local decode.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDecoder, createEncoder, createRuntime } from '../../src/api/index.ts';
import { detectionsToJson, type DetectionsJson } from '../../src/api/detections-json.ts';
import { createRemoteDecoder } from '../../src/client/remote.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/default/detector.safetensors';
const COD = 'weights/default/codec.safetensors';
const SIZE = { minSize: 128, maxSize: 192 };

let server: VcmServer;
let base = '';
let bytes: Uint8Array;
let local: DetectionsJson;

describeGpu('the detections JSON is one format', () => {
  beforeAll(async () => {
    const runtime = await createRuntime();
    try {
      const enc = await createEncoder({ detector: DET, codec: COD, mode: 'portable', ...SIZE, runtime });
      const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, runtime });
      bytes = (await enc.encode(new Uint8Array(readFileSync('weights/mini-coco/000000000002.png')))).bytes;
      const r = await dec.decode(bytes);
      local = detectionsToJson(r.detections, dec.classNames, r.sizes);
      enc.dispose();
      dec.dispose();
      expect(runtime.isDisposed).toBe(false); // instances never dispose a runtime they were given
    } finally {
      runtime.dispose();
    }
    server = await createServer({ detector: DET, codecs: [COD], warmup: { sizes: [[96, 128]], ...SIZE } });
    await server.warmup();
    base = await server.listen(0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('CLI decode, the server and the remote client agree, and equal a local decode', async () => {
    expect(local.scores.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-json-'));
    const vcm = join(dir, 'x.vcm'),
      out = join(dir, 'dets.json');
    writeFileSync(vcm, bytes);
    const cli = await new Promise<{ code: number; err: string }>((res) => {
      execFile(process.execPath, ['bin/webvcm.js', 'decode', vcm, '-o', out], { encoding: 'utf8', timeout: 600_000 }, (e, _o, err) =>
        res({ code: e ? Number(e.code ?? 1) : 0, err }),
      );
    });
    expect(cli.code, cli.err).toBe(0);
    const fromCli = JSON.parse(readFileSync(out, 'utf8')) as DetectionsJson;

    const res = await fetch(`${base}/v1/detect`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes as BodyInit,
    });
    expect(res.status).toBe(200);
    const { fingerprint, timings, ...fromServer } = (await res.json()) as DetectionsJson & { fingerprint: string; timings: object };
    expect(fingerprint).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(timings)).toContain('server total');

    const remote = await createRemoteDecoder({ url: base }).decode(bytes);

    expect(fromCli).toEqual(local);
    expect(fromServer).toEqual(local);
    expect(remote.json).toEqual(local);
    // byte-identical text, not only equal values
    expect(JSON.stringify(fromServer)).toBe(JSON.stringify(fromCli));
    expect(JSON.stringify(remote.json)).toBe(JSON.stringify(fromCli));
    expect(remote.labels).toEqual(local.labels);
  });
});
