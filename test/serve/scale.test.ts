/**
 * Scaling out: two `webvcm serve` processes on two ports take one client's alternating requests and answer
 * identically (receivers hold no state); SIGTERM drains and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEncoder } from '../../src/api/index.ts';
import { createRemoteDecoder } from '../../src/client/remote.ts';
import { describeGpu } from '../helpers/gpu.ts';

const procs: ChildProcess[] = [];
const urls: string[] = [];

function start(): Promise<string> {
  const p = spawn(
    process.execPath,
    ['bin/webvcm.js', 'serve', '--port', '0', '--warmup-size', '150x225', '--min-size', '128', '--max-size', '192'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  procs.push(p);
  let out = '';
  return new Promise((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m && /ready after/.test(out)) resolve(m[1]!);
    });
    p.on('exit', (c) => reject(new Error(`server exited with ${c}: ${out}`)));
  });
}

describeGpu('two receivers behind one client', () => {
  beforeAll(async () => {
    urls.push(...(await Promise.all([start(), start()])));
  });
  afterAll(() => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  });

  it('alternating requests get identical answers from both; SIGTERM exits 0', async () => {
    expect(new Set(urls).size).toBe(2);
    const enc = await createEncoder({
      detector: 'weights/default/detector.safetensors',
      codec: 'weights/default/codec.safetensors',
      mode: 'portable',
      minSize: 128,
      maxSize: 192,
    });
    const { bytes } = await enc.encode(new Uint8Array(readFileSync('weights/mini-coco/000000000002.png')));
    enc.dispose();
    const clients = urls.map((url) => createRemoteDecoder({ url }));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await clients[i % 2]!.decode(bytes));
    for (const a of answers.slice(1)) expect(Array.from(a.detections.scores)).toEqual(Array.from(answers[0]!.detections.scores));
    for (const url of urls) {
      const t = await (await fetch(`${url}/metrics`)).text();
      expect(t).toMatch(/webvcm_requests_total\{route="\/v1\/detect",status="200"\} 2/);
    }
    const codes = await Promise.all(
      procs.map(
        (p) =>
          new Promise<number | null>((r) => {
            p.once('exit', (c) => r(c));
            p.kill('SIGTERM');
          }),
      ),
    );
    expect(codes).toEqual([0, 0]);
  });
});
