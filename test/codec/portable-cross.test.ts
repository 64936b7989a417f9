// Portable mode across devices: the h_s → index path gives identical indexes on lavapipe (this process), SwiftShader
// (a child process: Dawn picks its Vulkan driver once per process) and the CPU reference, on every golden case and on
// adversarial inputs placed exactly at scale-table boundaries. Compat indexes are compared too (informative where
// they are not required to agree; required on the float-boundary case, whose scales are exact).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { gpuContext } from '../helpers/gpu.ts';
import { indexCases, runCases } from './adversarial.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

describeGpuGolden('portable indexes: lavapipe = SwiftShader = CPU reference', () => {
  it('golden and adversarial cases', async () => {
    const cases = await indexCases();
    const ref = await runCases(new CpuCodecBackend(), cases);
    for (const cs of cases) {
      const r = ref[cs.name]!;
      const perChannel = (a: Int32Array) => Array.from({ length: cs.params.M }, (_, c) => a[c * (a.length / cs.params.M)]!);
      if (cs.expectCompat) expect(perChannel(r.c), `${cs.name} compat`).toEqual(cs.expectCompat);
      if (cs.expectPortable) expect(perChannel(r.p), `${cs.name} portable`).toEqual(cs.expectPortable);
    }
    const ctx = await gpuContext();
    const lvp = await runCases(new GpuCodecBackend(ctx), cases);
    expect(existsSync(SWIFTSHADER_ICD), 'SwiftShader (Debian chromium) must be installed: npm run setup').toBe(true);
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'test/codec/portable-indexes.script.ts'], {
      env: { ...process.env, WEBVCM_ADAPTER: 'swiftshader', VK_ICD_FILENAMES: SWIFTSHADER_ICD, WEBVCM_VK_ICD: SWIFTSHADER_ICD },
      encoding: 'utf8',
      timeout: 240_000,
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    expect(line, `SwiftShader child failed: ${child.stderr.slice(-2000)}`).toBeDefined();
    const ss = JSON.parse(line!.slice(7)) as { adapter: string; results: Record<string, { portable: string; compat: string }> };
    expect(ss.adapter.toLowerCase()).toContain('swiftshader');
    expect(ctx.info.description.toLowerCase()).toMatch(/llvmpipe|lavapipe/);
    const rows: string[] = [];
    for (const cs of cases) {
      const n = cs.name;
      expect(lvp[n]!.portable, `${n}: lavapipe portable`).toBe(ref[n]!.portable);
      expect(ss.results[n]!.portable, `${n}: SwiftShader portable`).toBe(ref[n]!.portable);
      if (cs.expectCompat) {
        expect(lvp[n]!.compat, `${n}: lavapipe compat`).toBe(ref[n]!.compat);
        expect(ss.results[n]!.compat, `${n}: SwiftShader compat`).toBe(ref[n]!.compat);
      }
      let diffL = 0,
        diffP = 0;
      for (let i = 0; i < ref[n]!.c.length; i++) {
        if (lvp[n]!.c[i] !== ref[n]!.c[i]) diffL++;
        if (ref[n]!.p[i] !== ref[n]!.c[i]) diffP++;
      }
      rows.push(
        `${n}: portable ${ref[n]!.portable} on all three; compat: lavapipe vs CPU ${diffL} differ, SwiftShader ${ss.results[n]!.compat === ref[n]!.compat ? '=' : '≠'} CPU; portable vs compat ${diffP}/${ref[n]!.c.length}`,
      );
    }
    console.log(`${ss.adapter} / ${ctx.info.description}\n${rows.join('\n')}`);
  });
});
