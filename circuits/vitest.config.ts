import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'circuits',
    include: ['test/**/*.test.ts'],
    // recompiling a circuit takes ~1 min on 2 shared cores; proofs a few seconds
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
})
