import { defaultServerConditions } from 'vite'
import { defineProject } from 'vitest/config'

// Tests run in vitest's server (SSR) environment, whose resolver reads `ssr.resolve.conditions`:
// `vain-source` there makes `@vain/net` resolve to its TypeScript sources (no build needed).
const conditions = ['vain-source', ...defaultServerConditions]

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: 'metrics',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // store files, libp2p nodes and Prometheus are real: run files one after another on 2 cores
    fileParallelism: false,
  },
})
