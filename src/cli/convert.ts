// `webvcm convert <checkpoint> -o <file.safetensors>`: CompressAI .pth.tar or Detectron2 .pkl -> canonical
// .safetensors (BN folded, GDN effective, entropy tables; docs/weights.md).
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readCheckpoint } from '../model/weights/checkpoint.ts';
import { createSha256, initHash, toHex } from '../model/weights/hash.ts';
import { codecWeightsFromRaw, convertToSafetensors, detectKind, detectorWeightsFromRaw, weightsConfig } from '../model/weights/load.ts';
import { WrongModelKindError } from '../model/weights/errors.ts';
import type { ModelWeights } from '../model/weights/types.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('convert a CompressAI .pth.tar or Detectron2 .pkl checkpoint to a .safetensors file of the tensors webvcm uses')
    .argument('<checkpoint>', '.pth.tar / .pth (torch.save zip), .pkl (Detectron2 model zoo) or .safetensors')
    .requiredOption('-o, --output <file>', 'output .safetensors file')
    .option('--json', 'print a machine-readable summary')
    .action(async (input: string, opts: { output: string; json?: boolean }) => {
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
