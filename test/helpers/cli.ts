// Helpers for the CLI tests: `webvcm …` run as a child process, and a tiny shapes-world set for `eval`.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

/** A 2-image shapes-world val set in a temp folder (tools/make-world.ts), image 1 optionally corrupt. */
export function world(corrupt = false): string {
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-world-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'tools/make-world.ts', '--split', 'val', '--count', '2', '--out', dir], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  if (corrupt) writeFileSync(join(dir, '000001.png'), readFileSync(join(dir, '000001.png')).subarray(0, 200));
  return dir;
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** `webvcm <args>` (bin/webvcm.js), async: a long blocking child would stall the vitest worker's RPC. */
export function webvcm(...args: string[]): Promise<CliResult> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      ['bin/webvcm.js', ...args],
      { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        res({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** `webvcm eval <args>`. */
export function full(...args: string[]): Promise<CliResult> {
  return webvcm('eval', ...args);
}
