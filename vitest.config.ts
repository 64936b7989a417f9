import { defineConfig } from 'vitest/config';

// GPU tests share two CPU cores with the software Vulkan driver: run files one at a time in forked workers
// (Dawn reads its env at start-up, which `forks` honours) and give software adapters generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // golden-data notice (or, under CI=true, a stop when it is missing) and an up-to-date dist/: test/setup/global.ts
    globalSetup: ['test/setup/global.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: false } },
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default'],
    // The suites written for the GPU path keep it: in Node, backend 'auto' would pick wasm over lavapipe. Tests of the
    // wasm backend and of the selection (test/wasm) ask for their backend explicitly.
    env: { WEBVCM_BACKEND: 'webgpu' },
  },
});
