import { defineConfig } from 'vitest/config';

// Suites start real hub/agent processes and real servers; on a 2-core machine running files one at a time
// keeps timings honest and ports/processes easy to reason about.
export default defineConfig({
  test: {
    include: ['test/suites/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    setupFiles: ['test/helpers/leftovers.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
