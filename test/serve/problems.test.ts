/** The server's error mapping: by class and `kind`, never by name (no GPU). */
import { expect, it } from 'vitest';
import { ContainerError } from '../../src/coder/container.ts';
import { RansDecodeError } from '../../src/coder/errors.ts';
import { GpuDeviceLostError, GpuShapeError, GpuUnavailableError } from '../../src/gpu/errors.ts';
import { CodecInputError } from '../../src/model/codec/codec.ts';
import { DeadlineError, QueueFullError } from '../../src/serve/queue.ts';
import { problemForError } from '../../src/serve/server.ts';
import { VcmError } from '../../src/util/errors.ts';

it('input and unsupported errors are 400 with their message; resource 503; internal and foreign errors 500, generic', () => {
  for (const e of [
    new ContainerError('bad magic'),
    new RansDecodeError('truncated', 'stream ends early'),
    new CodecInputError('out of range'),
    new GpuUnavailableError('no adapter', 'install one'),
  ]) {
    const p = problemForError(e);
    expect([p.status, p.slug, p.message]).toEqual([400, 'invalid-stream', e.message]);
  }
  // the bug of issue 20: a GpuShapeError (internal) used to be a 400 because its name matched /Shape/
  for (const e of [
    new GpuShapeError('conv2d expects an HWC feature map'),
    new TypeError('x is undefined'),
    'a string',
    new VcmError('internal', 'invariant'),
  ]) {
    const p = problemForError(e);
    expect([p.status, p.slug]).toEqual([500, 'internal']);
    expect(p.message).not.toMatch(/HWC|undefined|string|invariant/);
  }
  // an error whose name looks like a stream error but is not a VcmError stays internal
  const named = new Error('looks like input');
  named.name = 'ContainerInputError';
  expect(problemForError(named).status).toBe(500);
  expect(problemForError(new GpuDeviceLostError('destroyed', 'gone')).status).toBe(503);
  expect(problemForError(new GpuShapeError('too large for this device', 'resource')).status).toBe(503);
  expect(problemForError(new QueueFullError('full', 3)).headers['retry-after']).toBe('3');
  expect(problemForError(new DeadlineError('late')).status).toBe(504);
});
