// Every shell command written in README.md and docs/*.md: the repository files it names exist, the npm scripts and
// `webvcm` sub-commands it calls exist, and the cheap ones run (`webvcm <cmd> --help`, `webvcm inspect <file>`).
// Needs the build (npm test builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DOCS = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** Shell commands of a markdown text: the lines of ```sh/bash/shell/console blocks (continuations joined, comments
 *  and prompts removed), and inline code spans that start with a command word. */
export function extractCommands(md: string): string[] {
  const out: string[] = [];
  const fence = /^```(\w*)\s*$/;
  let inBlock: string | null = null;
  let pending = '';
  for (const raw of md.split('\n')) {
    const m = fence.exec(raw.trim());
    if (m) {
      inBlock = inBlock === null ? m[1]! : null;
      continue;
    }
    if (inBlock === null) {
      for (const span of raw.matchAll(/`([^`]+)`/g)) {
        const s = span[1]!.trim();
        if (/^(npx|npm|node|bash) \S/.test(s)) out.push(s);
      }
      continue;
    }
    if (!['sh', 'bash', 'shell', 'console'].includes(inBlock)) continue;
    let line = raw.replace(/^\s*\$ /, '');
    line = line.replace(/(^|\s)#(?![^\s]*\/).*$/, '').trimEnd();
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const cmd = (pending + line).replace(/\s+/g, ' ').trim();
    pending = '';
    if (cmd) out.push(cmd);
  }
  return out;
}

const REPO_DIRS = ['weights', 'tools', 'bench', 'test', 'src', 'demo', 'docs', 'bin', 'shaders'];

/** Repository paths a command names: tokens (and comma-separated parts, and `--opt=value` values) that start with a
 *  tracked top-level folder or are a top-level file with an extension. Placeholders (<…>, […], …) are ignored. */
export function repoPaths(cmd: string): string[] {
  const paths: string[] = [];
  for (const tok of cmd.split(/\s+/)) {
    for (let part of tok.split(',')) {
      part = part.replace(/^--?[\w-]+=/, '').replace(/^['"]|['"]$/g, '').replace(/[;)]+$/, '');
      if (!part || /[<>[\]…*$]/.test(part)) continue;
      if (REPO_DIRS.some((d) => part.startsWith(d + '/'))) paths.push(part.replace(/\/$/, ''));
    }
  }
  return paths;
}

const commands = DOCS.flatMap((file) => extractCommands(readFileSync(file, 'utf8')).map((cmd) => ({ file, cmd })));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
const manifest = JSON.parse(readFileSync('dist/cli/commands.json', 'utf8')) as unknown;
const subcommands = new Set<string>(
  (Array.isArray(manifest) ? manifest : ((manifest as { commands?: unknown[] }).commands ?? [])).map((c) =>
    typeof c === 'string' ? c : String((c as { name: string }).name),
  ),
);

describe('documented commands', () => {
  it('the extractor finds the commands (README has set-up, start and test)', () => {
    const readme = commands.filter((c) => c.file === 'README.md').map((c) => c.cmd);
    expect(readme).toContain('npm run setup');
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
    expect(extractCommands('```sh\nnpx webvcm eval --a x \\\n  --b weights/y.bin   # note\n```\n')).toEqual(['npx webvcm eval --a x --b weights/y.bin']);
    expect(repoPaths('x --codec weights/a.st,weights/b.st --out=tools/z.ts <file> weights/[x]')).toEqual(['weights/a.st', 'weights/b.st', 'tools/z.ts']);
    expect(commands.length).toBeGreaterThan(30);
  });

  it('every repository file a documented command names exists', () => {
    const missing = commands.flatMap(({ file, cmd }) => repoPaths(cmd).filter((p) => !existsSync(p)).map((p) => `${file}: ${p} (in: ${cmd})`));
    expect(missing).toEqual([]);
  });

  it('every `npm run X` names a script and every `webvcm X` a sub-command', () => {
    const bad: string[] = [];
    for (const { file, cmd } of commands) {
      for (const m of cmd.matchAll(/npm run ([\w:-]+)/g)) if (!(m[1]! in pkg.scripts)) bad.push(`${file}: npm run ${m[1]}`);
      for (const m of cmd.matchAll(/(?:npx webvcm|bin\/webvcm\.js|^webvcm) ([a-z][\w-]*)/g)) {
        if (m[1] !== 'help' && !subcommands.has(m[1]!)) bad.push(`${file}: webvcm ${m[1]}`);
      }
    }
    expect(subcommands.size).toBeGreaterThan(5);
    expect(bad).toEqual([]);
  });

  it('the cheap ones run: `webvcm <cmd> --help` for every documented sub-command, and every `webvcm inspect <file>`', () => {
    const used = new Set<string>();
    const inspects = new Set<string>();
    for (const { cmd } of commands) {
      for (const m of cmd.matchAll(/(?:npx webvcm|bin\/webvcm\.js) ([a-z][\w-]*)/g)) used.add(m[1]!);
      const i = /webvcm inspect (\S+)$/.exec(cmd);
      if (i && existsSync(i[1]!)) inspects.add(i[1]!);
    }
    expect(used.size).toBeGreaterThan(5);
    for (const sub of used) {
      const r = spawnSync(process.execPath, ['bin/webvcm.js', sub, '--help'], { encoding: 'utf8' });
      expect(r.status, `webvcm ${sub} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('Usage');
    }
    expect(inspects.size).toBeGreaterThan(0);
    for (const f of inspects) {
      const r = spawnSync(process.execPath, ['bin/webvcm.js', 'inspect', f], { encoding: 'utf8' });
      expect(r.status, `webvcm inspect ${f}: ${r.stderr}`).toBe(0);
    }
  });
});
