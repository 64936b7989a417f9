// Minimal zip directory reader for torch checkpoints. Stored entries (what torch.save writes) are returned as views
// into the archive buffer (zero copy; torch aligns them to 64 bytes); deflated entries are inflated with fflate.
// We read the central directory ourselves because fflate's unzipSync copies every entry (a second full copy of a
// 170 MB checkpoint).
import { inflateSync } from 'fflate';
import { TruncatedCheckpointError, ZipFormatError } from './errors.ts';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** DEFLATE cannot expand data by more than about 1032:1 (258-byte matches coded in 2 bits). */
export const MAX_DEFLATE_RATIO = 1032;
/** Largest data.pkl accepted: a state dict's pickle holds names and shapes only (tensors live in data/N). */
export const MAX_PICKLE_BYTES = 64 << 20;

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOC = 0x07064b50;
const SIG_CEN = 0x02014b50;
const SIG_LOC = 0x04034b50;

export function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const n = buf.length;
    let eocd = -1;
    for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
      if (this.dv.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      throw new TruncatedCheckpointError(
        `zip archive is truncated or damaged: end-of-central-directory record not found (file is ${n} bytes)`,
      );
    }
    let count = this.dv.getUint16(eocd + 10, true);
    let cdSize = this.dv.getUint32(eocd + 12, true);
    let cdOffset = this.dv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.dv.getUint32(loc, true) !== SIG_EOCD64_LOC) throw new ZipFormatError('zip64 locator missing');
      const rec = this.u64(loc + 8);
      if (rec + 56 > n || this.dv.getUint32(rec, true) !== SIG_EOCD64) throw new ZipFormatError('zip64 end record missing');
      count = this.u64(rec + 32);
      cdSize = this.u64(rec + 40);
      cdOffset = this.u64(rec + 48);
    }
    if (cdOffset + cdSize > n) {
      throw new TruncatedCheckpointError(`zip central directory (${cdOffset}+${cdSize}) lies beyond the end of the file (${n} bytes)`);
    }
    let p = cdOffset;
    for (let k = 0; k < count; k++) {
      if (p + 46 > n || this.dv.getUint32(p, true) !== SIG_CEN) {
        throw new ZipFormatError(`bad zip central directory entry #${k} at byte ${p}`);
      }
      const method = this.dv.getUint16(p + 10, true);
      let compressedSize = this.dv.getUint32(p + 20, true);
      let size = this.dv.getUint32(p + 24, true);
      const nameLen = this.dv.getUint16(p + 28, true);
      const extraLen = this.dv.getUint16(p + 30, true);
      const commentLen = this.dv.getUint16(p + 32, true);
      let localHeaderOffset = this.dv.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > n) throw new ZipFormatError(`zip entry #${k} header runs past the directory`);
      const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.dv.getUint16(e, true);
        const len = this.dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) { size = this.u64(q); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = this.u64(q); q += 8; }
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = this.u64(q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private u64(at: number): number {
    const lo = this.dv.getUint32(at, true);
    const hi = this.dv.getUint32(at + 4, true);
    if (hi >= 0x200000) throw new ZipFormatError('zip64 value too large');
    return hi * 2 ** 32 + lo;
  }

  /**
   * The bytes of an entry: a view for stored entries, a new buffer for deflated ones. Decompression budget, all
   * checked before inflating: `maxBytes` caps the declared size, `expectBytes` must equal it (what the tensors that
   * use the entry need), and a deflated entry may not claim more than DEFLATE's maximum ratio (1032:1) allows.
   */
  read(name: string, opts: { maxBytes?: number; expectBytes?: number; file?: string } = {}): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipFormatError(`zip entry '${name}' is missing`);
    const where = opts.file ? `${opts.file}: ` : '';
    if (opts.expectBytes !== undefined && e.size !== opts.expectBytes) {
      throw new ZipFormatError(`${where}zip entry '${name}' declares ${e.size} bytes, but the tensors stored in it need ${opts.expectBytes}`);
    }
    if (opts.maxBytes !== undefined && e.size > opts.maxBytes) {
      throw new ZipFormatError(`${where}zip entry '${name}' declares ${e.size} bytes, over the decompression budget of ${opts.maxBytes} for it (refused before inflating)`);
    }
    if (e.method === 8 && e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new ZipFormatError(`${where}zip entry '${name}' claims ${e.size} bytes from ${e.compressedSize} compressed: more than DEFLATE can expand (${MAX_DEFLATE_RATIO}:1); the archive is corrupt or hostile`);
    }
    const o = e.localHeaderOffset;
    if (o + 30 > this.buf.length) throw new TruncatedCheckpointError(`zip entry '${name}': local header beyond end of file`);
    if (this.dv.getUint32(o, true) !== SIG_LOC) throw new ZipFormatError(`zip entry '${name}': bad local header signature`);
    const start = o + 30 + this.dv.getUint16(o + 26, true) + this.dv.getUint16(o + 28, true);
    const end = start + e.compressedSize;
    if (end > this.buf.length) {
      throw new TruncatedCheckpointError(`zip entry '${name}': data (${start}..${end}) beyond end of file (${this.buf.length} bytes)`);
    }
    const raw = this.buf.subarray(start, end);
    if (e.method === 0) {
      if (e.size !== e.compressedSize) throw new ZipFormatError(`zip entry '${name}': stored entry with differing sizes`);
      return raw;
    }
    if (e.method === 8) {
      let out: Uint8Array;
      try {
        out = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new ZipFormatError(`zip entry '${name}': deflate data is corrupt (${(err as Error).message})`);
      }
      if (out.length !== e.size) throw new ZipFormatError(`zip entry '${name}': inflated to ${out.length} bytes, expected ${e.size}`);
      return out;
    }
    throw new ZipFormatError(`zip entry '${name}': unsupported compression method ${e.method}`);
  }
}
