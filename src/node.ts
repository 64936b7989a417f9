/// <reference types="@webgpu/types" preserve="true" />
/**
 * The Node entry of the package (`exports["."].node`): everything the main entry has, plus what needs the file
 * system. Browser bundles resolve the `browser` condition to `index.ts` and never see this module.
 */
import { fileURLToPath } from 'node:url';

export * from './index.ts';

/** File paths of the weights bundled with the package (weights/default: small random-weight models, see README). */
export function bundledWeights(): { dir: string; detector: string; codec: string } {
  const dir = new URL('../weights/default/', import.meta.url);
  return {
    dir: fileURLToPath(dir),
    detector: fileURLToPath(new URL('detector.safetensors', dir)),
    codec: fileURLToPath(new URL('codec.safetensors', dir)),
  };
}
