/** Paths of the bundled default weights (weights/default), used when the CLI is given no checkpoint. */
import { fileURLToPath } from 'node:url';

export const DEFAULT_DETECTOR = fileURLToPath(new URL('../../weights/default/detector.safetensors', import.meta.url));
export const DEFAULT_CODEC = fileURLToPath(new URL('../../weights/default/codec.safetensors', import.meta.url));
