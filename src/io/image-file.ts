/** Node-side image input: PNG/JPEG files (decoded, EXIF applied) or raw H×W×3 uint8 BGR .npy. */
import type { BgrImage } from './bgr.ts';
import { ImageFormatError, decodeImageFile, toBgrHwc } from './image.ts';
import { readNpy } from './npy.ts';

export function bgrFromNpy(bytes: Uint8Array, what = 'input'): BgrImage {
  const a = readNpy(bytes);
  if (!(a.data instanceof Uint8Array) || a.dtype !== '|u1') throw new ImageFormatError(`${what}: .npy must be uint8 (got ${a.dtype})`);
  const s = a.shape;
  if (s.length !== 3 || s[2] !== 3 || s[0]! <= 0 || s[1]! <= 0)
    throw new ImageFormatError(`${what}: .npy must be H×W×3 BGR, got shape [${s.join(',')}]`);
  return { height: s[0]!, width: s[1]!, data: a.data };
}

/** A PNG/JPEG file's bytes or a uint8 H×W×3 BGR .npy → BgrImage. */
export function bgrFromFileBytes(bytes: Uint8Array, name = 'input'): BgrImage {
  if (bytes.length >= 6 && bytes[0] === 0x93 && bytes[1] === 0x4e && bytes[2] === 0x55 && bytes[3] === 0x4d) return bgrFromNpy(bytes, name);
  const rgb = decodeImageFile(bytes, { name });
  return { height: rgb.height, width: rgb.width, data: toBgrHwc(rgb) };
}
