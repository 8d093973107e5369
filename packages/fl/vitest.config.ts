import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['vain-source'] },
  // tests run in vitest's server (SSR) environment: `vain-source` there resolves the workspace
  // packages the adapters' tests import (@vain/net, @vain/memory) to their TypeScript sources
  ssr: { resolve: { conditions: ['vain-source', 'module', 'node', 'development|production'] } },
  test: {
    name: 'fl',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // onnxruntime sessions and MNIST are heavy on a 2-core machine: one file at a time
    fileParallelism: false,
  },
})
