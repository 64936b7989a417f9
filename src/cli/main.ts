// webvcm command-line interface. Each sub-command lives in its own module under src/cli/ and exports
// `register(program)`; they are loaded lazily so a broken or heavy module never slows the others.
import { Command, CommanderError } from 'commander';

const SUBCOMMANDS = ['doctor', 'convert', 'inspect', 'codec', 'detect', 'encode', 'decode', 'eval'] as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('webvcm')
    .description('Feature coding for machines on WebGPU (Detectron2 R50-FPN split after the stem + CompressAI hyperprior)')
    .version('0.1.0')
    .exitOverride();
  for (const name of SUBCOMMANDS) {
    let mod: { register?: (p: Command) => void } | undefined;
    try {
      mod = await import(`./${name}.ts`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`${name}.ts`)) continue;
      throw e;
    }
    mod?.register?.(program);
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const err = e as Error;
    process.stderr.write(`webvcm: ${err.name && err.name !== 'Error' ? err.name + ': ' : ''}${err.message}\n`);
    if (process.env.WEBVCM_DEBUG) process.stderr.write(`${err.stack}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}
