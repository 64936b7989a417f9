// `webvcm convert <checkpoint> -o <file.safetensors>`: CompressAI .pth.tar or Detectron2 .pkl -> canonical
// .safetensors (BN folded, GDN effective, entropy tables; docs/weights.md).
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readCheckpoint } from '../model/weights/checkpoint.ts';
import { createSha256, fingerprintTensors, initHash, toHex } from '../model/weights/hash.ts';
import { codecWeightsFromRaw, convertToSafetensors, detectKind, detectorWeightsFromRaw, weightsConfig } from '../model/weights/load.ts';
import { WrongModelKindError } from '../model/weights/errors.ts';
import type { HostTensor, ModelWeights } from '../model/weights/types.ts';
import { F16_MAX, roundToF16 } from '../util/f16.ts';
import { VcmError } from '../util/errors.ts';

/** `--round-f16` asked of weights it does not apply to, or of values float16 cannot hold. */
export class RoundF16Error extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'RoundF16Error';
  }
}

/**
 * A detector's canonical (BN-folded) tensors with every float rounded to the nearest float16 (ties to even), so that
 * the written file stores them as F16: half the bytes, lossy. The fingerprint is the rounded tensors'. Codecs are
 * refused: their entropy tables are computed from the parameters by CompressAI's `update()`, so rounding belongs
 * before it (`tools/train/export_vbr.py --f16`).
 */
export function roundDetectorToF16(w: ModelWeights): ModelWeights {
  if (w.kind !== 'detectron2-rcnn-fpn')
    throw new RoundF16Error('--round-f16 applies to detectors only: round a codec before update() (tools/train/export_vbr.py --f16)');
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of w.tensors) {
    if (t.dtype !== 'float32') {
      tensors.set(name, t);
      continue;
    }
    const a = t.data as Float32Array;
    for (let i = 0; i < a.length; i++)
      if (Math.abs(a[i]!) > F16_MAX)
        throw new RoundF16Error(`--round-f16: ${name}[${i}] = ${a[i]} is outside the float16 range (±${F16_MAX})`);
    tensors.set(name, { ...t, data: roundToF16(a) });
  }
  return { ...w, tensors, fingerprint: fingerprintTensors(tensors) };
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a CompressAI .pth.tar or Detectron2 .pkl checkpoint to a .safetensors file of the tensors webvcm uses')
    .argument('<checkpoint>', '.pth.tar / .pth (torch.save zip), .pkl (Detectron2 model zoo) or .safetensors')
    .requiredOption('-o, --output <file>', 'output .safetensors file')
    .option('--round-f16', 'detectors: round every tensor (after the BatchNorm fold) to float16, stored as F16: half the file, lossy')
    .option('--json', 'print a machine-readable summary')
    .action(async (input: string, opts: { output: string; json?: boolean; roundF16?: boolean }) => {
      const t0 = performance.now();
      await initHash();
      const bytes = new Uint8Array(await readFile(input));
      const h = createSha256();
      h.update(bytes);
      const sha = toHex(h.digest());
      const raw = readCheckpoint(bytes);
      const kind = detectKind(raw);
      let w: ModelWeights;
      if (kind === 'compressai-hyperprior') w = codecWeightsFromRaw(raw);
      else if (kind === 'detectron2-rcnn-fpn') w = detectorWeightsFromRaw(raw, bytes);
      else throw new WrongModelKindError(`${input}: holds neither CompressAI hyperprior nor Detectron2 R-CNN FPN weights`);
      if (opts.roundF16) w = roundDetectorToF16(w);
      const out = convertToSafetensors(w, sha);
      await writeFile(opts.output, out);
      const summary = {
        input,
        output: opts.output,
        kind: w.kind,
        config: weightsConfig(w),
        tensors: w.tensors.size,
        bytes: out.length,
        source_sha256: sha,
        fingerprint: toHex(w.fingerprint),
        classNames: w.kind === 'detectron2-rcnn-fpn' ? (w.classNames ?? null) : undefined,
        seconds: +((performance.now() - t0) / 1000).toFixed(3),
      };
      if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      else {
        process.stdout.write(
          `${input} -> ${opts.output}\n  ${w.kind} ${JSON.stringify(summary.config)}\n` +
            `  ${summary.tensors} tensors, ${summary.bytes} bytes, fingerprint ${summary.fingerprint}, ${summary.seconds} s\n` +
            (summary.classNames ? `  class names: ${summary.classNames.join(', ')}\n` : ''),
        );
      }
    });
}
