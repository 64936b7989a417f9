// Incremental SHA-256 that works everywhere: node:crypto when running in Node (fast, native), @noble/hashes otherwise.
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import type { HostTensor } from './types.ts';

export interface Hasher {
  update(b: Uint8Array): void;
  digest(): Uint8Array;
}

type CreateHash = (alg: string) => { update(b: Uint8Array): unknown; digest(): Uint8Array };
let nodeCreateHash: CreateHash | null | undefined;

/** Load node:crypto once if we are in Node (kept out of browser bundles by the computed specifier). */
export async function initHash(): Promise<void> {
  if (nodeCreateHash !== undefined) return;
  nodeCreateHash = null;
  const g = globalThis as { process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node) {
    try {
      const spec = 'node:crypto';
      const m = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as { createHash: CreateHash };
      nodeCreateHash = m.createHash;
    } catch {
      nodeCreateHash = null;
    }
  }
}

export function createSha256(): Hasher {
  if (nodeCreateHash) {
    const h = nodeCreateHash('sha256');
    return { update: (b) => void h.update(b), digest: () => new Uint8Array(h.digest()) };
  }
  const h = nobleSha256.create();
  return { update: (b) => void h.update(b), digest: () => h.digest() };
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * Fingerprint of a canonical tensor set: SHA-256 over, for each tensor in code-unit-sorted name order,
 * utf8(name) 0x00 utf8(dtype) 0x00 u32le(rank) u32le(dim)... raw little-endian data; first 16 bytes.
 */
export function fingerprintTensors(tensors: Map<string, HostTensor>): Uint8Array {
  const h = createSha256();
  const enc = new TextEncoder();
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    h.update(enc.encode(name));
    h.update(new Uint8Array([0]));
    h.update(enc.encode(t.dtype));
    h.update(new Uint8Array([0]));
    const dims = new Uint32Array([t.shape.length, ...t.shape]);
    h.update(new Uint8Array(dims.buffer));
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest().subarray(0, 16);
}
