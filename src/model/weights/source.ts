// Getting checkpoint bytes from a WeightSource: bytes, a Blob/File, a file path (Node), or a URL (fetch, streamed with
// progress). The result is one Uint8Array; with a known size the download is written straight into it (no second
// copy). Without Content-Length the chunks are joined at the end (transiently 2x).
import { WeightSourceError } from './errors.ts';
import type { LoadOptions, WeightSource } from './types.ts';

const isNode = (): boolean => !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

async function readStream(
  body: ReadableStream<Uint8Array>,
  total: number | undefined,
  opts: LoadOptions,
  what: string,
): Promise<Uint8Array> {
  const reader = body.getReader();
  let buf = total !== undefined ? new Uint8Array(total) : undefined;
  const chunks: Uint8Array[] = [];
  let done = 0;
  opts.onProgress?.(0, total);
  for (;;) {
    if (opts.signal?.aborted) {
      await reader.cancel();
      throw new WeightSourceError(`${what}: aborted`);
    }
    const r = await reader.read();
    if (r.done) break;
    const c = r.value;
    if (buf && done + c.length <= buf.length) buf.set(c, done);
    else {
      if (buf) {
        // more bytes than announced (e.g. Content-Encoding): switch to chunk mode
        chunks.push(buf.subarray(0, done));
        buf = undefined;
      }
      chunks.push(c);
    }
    done += c.length;
    opts.onProgress?.(done, total);
  }
  if (buf) {
    if (done !== buf.length) throw new WeightSourceError(`${what}: got ${done} bytes, expected ${buf.length} (connection closed early?)`);
    return buf;
  }
  const out = new Uint8Array(done);
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.length; }
  return out;
}

export async function readSource(source: WeightSource, opts: LoadOptions = {}): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return readStream(source.stream() as ReadableStream<Uint8Array>, source.size, opts, 'Blob');
  }
  const s = source instanceof URL ? source.href : source;
  if (typeof s !== 'string') throw new WeightSourceError('unsupported weight source');
  const isHttp = /^https?:\/\//i.test(s);
  if (!isHttp && isNode()) {
    const spec = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('node:fs/promises');
    const path = s.startsWith('file:') ? new URL(s) : s;
    try {
      const b = await fs.readFile(path);
      const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      opts.onProgress?.(bytes.length, bytes.length);
      return bytes;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' }[err.code ?? ''] ?? err.code ?? err.message;
      throw new WeightSourceError(`cannot read ${s}: ${why}`);
    }
  }
  let res: Response;
  try {
    res = await fetch(s, { signal: opts.signal });
  } catch (e) {
    throw new WeightSourceError(`cannot fetch ${s}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new WeightSourceError(`cannot fetch ${s}: HTTP ${res.status} ${res.statusText}`);
  const len = res.headers.get('content-length');
  const enc = res.headers.get('content-encoding');
  const total = len !== null && !enc ? Number(len) : undefined;
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    opts.onProgress?.(b.length, b.length);
    return b;
  }
  return readStream(res.body, Number.isFinite(total) ? total : undefined, opts, s);
}
