import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['vain-source'] },
  test: {
    name: 'fl',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // onnxruntime sessions and MNIST are heavy on a 2-core machine: one file at a time
    fileParallelism: false,
  },
})
