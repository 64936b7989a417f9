// `webvcm inspect <file>`: tensors, shapes, dtypes and the inferred model config of any supported checkpoint.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readCheckpoint } from '../model/weights/checkpoint.ts';
import { CheckpointError } from '../model/weights/errors.ts';
import { initHash, toHex } from '../model/weights/hash.ts';
import { codecWeightsFromRaw, detectKind, detectorWeightsFromRaw, weightsConfig } from '../model/weights/load.ts';
import type { HostTensor } from '../model/weights/types.ts';
import { fingerprint as sha16 } from '../coder/container.ts';
import { hyperpriorParams, paramsDigestInput } from '../model/codec/params.ts';

export interface InspectReport {
  file: string;
  format: string;
  kind: string | null;
  config: object | null;
  /**
   * The weights fingerprint. For a codec it is the one `.vcm` streams carry (and the server matches): SHA-256 over
   * every parameter the codec uses (paramsDigestInput); for a detector, the canonical tensor fingerprint.
   */
  fingerprint: string | null;
  /** The canonical tensor fingerprint stored in converted .safetensors files (checked on load). */
  tensorFingerprint: string | null;
  /** A variable-rate codec's level gains |Gain[s]| (CompressAI's `s`; `--level s` codes at the s-th). */
  gains?: number[];
  /** Why the file does not load as a model (validation problems), if it does not. */
  error: string | null;
  metadata: Record<string, string>;
  tensors: { name: string; dtype: string; shape: number[] }[];
}

export async function inspectFile(file: string): Promise<InspectReport> {
  await initHash();
  const bytes = new Uint8Array(await readFile(file));
  const raw = readCheckpoint(bytes);
  const kind = detectKind(raw) ?? null;
  let config: object | null = null;
  let fingerprint: string | null = null;
  let tensorFingerprint: string | null = null;
  let error: string | null = null;
  const tensorsOf = (m: Map<string, HostTensor>): InspectReport['tensors'] =>
    [...m].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const tensors = tensorsOf(raw.tensors); // before conversion (which may fold in place)
  try {
    if (kind) {
      const w = kind === 'compressai-hyperprior' ? codecWeightsFromRaw(raw) : detectorWeightsFromRaw(raw);
      config = weightsConfig(w);
      tensorFingerprint = toHex(w.fingerprint);
      fingerprint = kind === 'compressai-hyperprior' ? toHex(await sha16(paramsDigestInput(hyperpriorParams(w.tensors)))) : tensorFingerprint;
    }
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    error = `${e.name}: ${e.message}`;
  }
  const gainT = kind === 'compressai-hyperprior' && !error ? raw.tensors.get('Gain') : undefined;
  const gains = gainT ? Array.from(gainT.data, (g) => Math.abs(g)) : undefined;
  return { file, format: raw.format, kind, config, fingerprint, tensorFingerprint, ...(gains ? { gains } : {}), error, metadata: raw.metadata ?? {}, tensors };
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('list the tensors, shapes, dtypes and inferred model config of a .pth.tar, .pkl or .safetensors file')
    .argument('<file>', 'checkpoint file')
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { json?: boolean }) => {
      const r = await inspectFile(file);
      if (opts.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } else {
        const lines = [
          `file         ${r.file}`,
          `format       ${r.format}`,
          `model        ${r.kind ?? 'unknown'}${r.config && 'architecture' in r.config ? ` (${String((r.config as { architecture: string }).architecture)})` : ''}`,
          `config       ${r.config ? JSON.stringify(r.config) : '-'}`,
          `fingerprint  ${r.fingerprint ?? '-'}${r.kind === 'compressai-hyperprior' ? '  (the one .vcm streams carry)' : ''}`,
          ...(r.gains ? [`levels       ${r.gains.map((g, s) => `${s}: ${g}`).join(', ')}  (--level s codes at gain |Gain[s]|)`] : []),
          ...Object.entries(r.metadata).filter(([k]) => k !== 'config').map(([k, v]) => `meta.${k.padEnd(8)} ${v}`),
          ...(r.error ? [`problem      ${r.error}`] : []),
          `tensors      ${r.tensors.length}`,
          ...r.tensors.map((t) => `  ${t.name.padEnd(60)} ${t.dtype.padEnd(8)} [${t.shape.join(', ')}]`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (r.error) process.exitCode = 1;
    });
}
