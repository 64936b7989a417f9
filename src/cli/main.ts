// webvcm command-line interface. Each sub-command lives in its own module under src/cli/ and exports
// `register(program)`; they are loaded lazily so a broken or heavy module never slows the others.
//
// Start-up: `webvcm <command> …` loads only that command's module. `webvcm --help` / `--version` load none: the
// top-level help is drawn from dist/cli/commands.json, which `npm run build` writes from the real modules
// (tools/cli-manifest.mjs); without it (running the TypeScript sources) every module is loaded instead.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help } from 'commander';
import { CONTAINER_VERSION } from '../coder/container.ts';
import { VcmError } from '../util/errors.ts';

const SUBCOMMANDS = ['doctor', 'convert', 'inspect', 'codec', 'detect', 'encode', 'decode', 'eval', 'serve', 'tune'] as const;

export class CliError extends VcmError {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super('input', message);
    this.name = 'CliError';
  }
}

/** One line of the top-level help: what `register` declared for a sub-command. */
export interface SubcommandSummary {
  name: string;
  term: string;
  description: string;
}

/** The package version, read from package.json (two levels up from both src/cli and dist/cli). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What `webvcm --version` prints: the package version and the .vcm container (bitstream) format version. */
export function versionText(): string {
  return `webvcm ${packageVersion()} (bitstream format ${CONTAINER_VERSION})`;
}

type SubModule = { register?: (p: Command) => void };

async function loadSubcommand(name: string): Promise<SubModule | undefined> {
  try {
    return (await import(`./${name}.ts`)) as SubModule;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && new RegExp(`[/\\\\]${name}\\.(ts|js)\\b`).test(String(e)))
      return undefined;
    throw e;
  }
}

function newProgram(): Command {
  return new Command('webvcm')
    .description('Feature coding for machines on WebGPU (Detectron2 R50-FPN split after the stem + CompressAI hyperprior)')
    .version(versionText(), '-V, --version', 'print the package version and the bitstream format version')
    .exitOverride();
}

/** Loads every sub-command module and reports what each registers (the build writes this to commands.json). */
export async function describeSubcommands(): Promise<SubcommandSummary[]> {
  const program = newProgram();
  for (const name of SUBCOMMANDS) (await loadSubcommand(name))?.register?.(program);
  const help = new Help();
  return program.commands.map((c) => ({ name: c.name(), term: help.subcommandTerm(c), description: c.description() }));
}

function readManifest(): SubcommandSummary[] | undefined {
  try {
    const m = JSON.parse(readFileSync(new URL('./commands.json', import.meta.url), 'utf8')) as SubcommandSummary[];
    return Array.isArray(m) && m.every((s) => typeof s.name === 'string' && typeof s.term === 'string') ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The sub-command that argv selects (`webvcm <cmd> …` or `webvcm help <cmd>`), if it is a known one. */
export function selectedSubcommand(argv: string[]): string | undefined {
  const args = argv.slice(2);
  const i = args.findIndex((a) => !a.startsWith('-'));
  if (i < 0) return undefined;
  const known = (n: string | undefined): n is string => n !== undefined && (SUBCOMMANDS as readonly string[]).includes(n);
  if (args[i] === 'help') return known(args[i + 1]) ? args[i + 1] : undefined;
  return known(args[i]) ? args[i] : undefined;
}

export async function main(argv: string[]): Promise<number> {
  const program = newProgram();
  try {
    const selected = selectedSubcommand(argv);
    const manifest = selected ? undefined : readManifest();
    if (selected) {
      if (selected !== 'tune') (await import('../gpu/tuning-node.ts')).enableTuneCache(); // tuned conv variants, when cached
      (await loadSubcommand(selected))?.register?.(program);
    } else if (manifest) {
      // Top-level help, --version or an unknown command: placeholders are enough (nothing here ever runs them).
      const terms = new Map(manifest.map((s) => [s.name, s.term]));
      for (const s of manifest) program.command(s.name).description(s.description);
      program.configureHelp({ subcommandTerm: (c) => terms.get(c.name()) ?? c.name() });
    } else {
      for (const name of SUBCOMMANDS) (await loadSubcommand(name))?.register?.(program);
    }
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
