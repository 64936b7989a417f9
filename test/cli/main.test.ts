// The CLI entry: which module a command line loads, the version text, and the build's commands.json (what a fast
// `webvcm --help` prints) against what the modules register.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CONTAINER_VERSION } from '../../src/coder/container.ts';
import { describeSubcommands, selectedSubcommand, versionText } from '../../src/cli/main.ts';

const argv = (...a: string[]) => ['node', 'webvcm', ...a];

it('only the selected sub-command is loaded: `webvcm <cmd> …` and `webvcm help <cmd>`', () => {
  expect(selectedSubcommand(argv('encode', 'x.png', '-o', 'x.vcm'))).toBe('encode');
  expect(selectedSubcommand(argv('help', 'decode'))).toBe('decode');
  expect(selectedSubcommand(argv('--help'))).toBeUndefined();
  expect(selectedSubcommand(argv('-V'))).toBeUndefined();
  expect(selectedSubcommand(argv('help'))).toBeUndefined();
  expect(selectedSubcommand(argv('nope'))).toBeUndefined();
  expect(selectedSubcommand(argv())).toBeUndefined();
});

it('--version names the package version and the bitstream format version', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  expect(versionText()).toBe(`webvcm ${pkg.version} (bitstream format ${CONTAINER_VERSION})`);
  const r = spawnSync(process.execPath, ['bin/webvcm.js', '--version'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe(versionText());
});

it('dist/cli/commands.json equals what the sub-command modules register; --help prints every one', async () => {
  const fromSources = await describeSubcommands();
  expect(fromSources.length).toBeGreaterThanOrEqual(8);
  expect(JSON.parse(readFileSync('dist/cli/commands.json', 'utf8'))).toEqual(fromSources);
  const r = spawnSync(process.execPath, ['bin/webvcm.js', '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  for (const c of fromSources) expect(r.stdout).toContain(c.term);
  const bad = spawnSync(process.execPath, ['bin/webvcm.js', 'nope'], { encoding: 'utf8' });
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/unknown command 'nope'/);
});
