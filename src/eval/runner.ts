/**
 * The real EvalRunner: the WebGPU detector (uncompressed reference) and, per codec method, the library encoder and
 * decoder (image → stem → 8-bit features → codec → container → decode → detections). One GPU device is shared.
 */
import { readFileSync } from 'node:fs';
import { createDecoder, createEncoder, type VcmDecoder, type VcmEncoder } from '../api/index.ts';
import type { CodecMode } from '../model/codec/codec.ts';
import { bgrFromFileBytes } from '../model/detector/io.ts';
import { loadCodecWeights, loadDetectorWeights } from '../model/weights/load.ts';
import type { EncodeDecodeResult, EvalRunner } from './pipeline.ts';

export interface RunnerOptions {
  detector: string;
  codec: string;
  mode?: CodecMode;
  minSize?: number;
  maxSize?: number;
}

export async function createEvalRunner(o: RunnerOptions): Promise<EvalRunner> {
  const [detector, codec] = await Promise.all([loadDetectorWeights(o.detector), loadCodecWeights(o.codec)]);
  const base = { detector, codec, minSize: o.minSize, maxSize: o.maxSize };
  const encoders = new Map<number, VcmEncoder>();
  // Method 1's encoder doubles as the uncompressed reference detector (same weights, same normal resize).
  const first = await createEncoder({ ...base, method: 1, mode: o.mode });
  encoders.set(1, first);
  const decoder: VcmDecoder = await createDecoder({ ...base, device: first.device });
  const encoderFor = async (method: number): Promise<VcmEncoder> => {
    if (method !== 1 && method !== 2) throw new Error(`unknown codec method ${method} (1 or 2)`);
    let e = encoders.get(method);
    if (!e) {
      e = await createEncoder({ ...base, method, mode: o.mode, device: first.device });
      encoders.set(method, e);
    }
    return e;
  };
  const load = (path: string) => bgrFromFileBytes(new Uint8Array(readFileSync(path)), path);
  return {
    async detect(imagePath) {
      return first.detectUncompressed(load(imagePath));
    },
    async encodeDecodeDetect(imagePath, method): Promise<EncodeDecodeResult> {
      const enc = await encoderFor(method);
      const r = await enc.encode(load(imagePath));
      const d = await decoder.decode(r.bytes);
      return { dets: d.detections, bytes: r.bytes.length, stringBytes: r.stringBytes.y + r.stringBytes.z };
    },
    close() {
      decoder.dispose();
      // The first encoder owns the device: dispose it last.
      for (const [m, e] of encoders) if (m !== 1) e.dispose();
      first.dispose();
    },
  };
}
