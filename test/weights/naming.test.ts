/**
 * Checkpoint errors name the file and the option at fault (issue 13 hardening): the loaders prefix a
 * CheckpointError's message with the `label` they were given and the source's path/URL/name, keep its class and
 * code, and never name anything for anonymous bytes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, loadCodecWeights, loadDetectorWeights, loadWeights } from '../../src/model/weights/index.ts';
import { describeSource } from '../../src/model/weights/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'webvcm-naming-'));
const trunc = join(dir, 'trunc.safetensors');
writeFileSync(trunc, readFileSync('weights/default/codec.safetensors').subarray(0, 3000));
const garbage = join(dir, 'garbage.pth.tar');
writeFileSync(garbage, 'garbage\n');

async function err(p: Promise<unknown>): Promise<CheckpointError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(CheckpointError);
  return e as CheckpointError;
}

describe('checkpoint errors name the source', () => {
  it('a path with a label: "<label> <path>: …", class and code kept', async () => {
    const e = await err(loadCodecWeights(trunc, { label: '--codec' }));
    expect(e.message.startsWith(`--codec ${trunc}: `)).toBe(true);
    expect(e.name).toBe('TruncatedCheckpointError');
    expect(e.code).toBe('TRUNCATED');
    const d = await err(loadDetectorWeights(garbage, { label: 'detector' }));
    expect(d.message).toMatch(new RegExp(`^detector ${garbage}: `));
  });

  it('a path without a label still names the file; the wrong model kind names it too', async () => {
    expect((await err(loadWeights(garbage))).message.startsWith(`${garbage}: `)).toBe(true);
    const w = await err(loadDetectorWeights('weights/default/codec.safetensors', { label: '--detector' }));
    expect(w.code).toBe('WRONG_KIND');
    expect(w.message).toMatch(/^--detector weights\/default\/codec\.safetensors: expected a detectron2-rcnn-fpn checkpoint/);
  });

  it('a missing file is named once, after the label', async () => {
    const missing = join(dir, 'nope.safetensors');
    const e = await err(loadCodecWeights(missing, { label: '--codec' }));
    expect(e.message.startsWith('--codec: ')).toBe(true);
    expect(e.message.split(missing).length - 1).toBe(1);
  });

  it('bytes carry only the label; Blob names and URLs are used when present', async () => {
    const bytes = new Uint8Array(readFileSync(trunc));
    expect((await err(loadCodecWeights(bytes))).message).not.toMatch(/^[^:]*trunc/);
    expect((await err(loadCodecWeights(bytes, { label: 'codec' }))).message.startsWith('codec: ')).toBe(true);
    expect(describeSource(new File([bytes], 'c.safetensors'), 'codec')).toBe('codec c.safetensors');
    expect(describeSource(new URL('https://example.org/w.safetensors'))).toBe('https://example.org/w.safetensors');
    expect(describeSource(bytes)).toBe('');
  });
});
