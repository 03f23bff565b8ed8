import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'bench/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real-process tests start nodes on free ports; keep them from fighting for 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
