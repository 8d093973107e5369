import { defaultServerConditions } from 'vite'
import { defineProject } from 'vitest/config'

const conditions = ['vain-source', ...defaultServerConditions]

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: 'resources',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // tests start real CPU hogs and sample the real host: one file at a time on 2 shared cores
    fileParallelism: false,
  },
})
