import { defaultServerConditions } from 'vite'
import { defineProject } from 'vitest/config'

export default defineProject({
  // resolve workspace packages (@vain/*) to their TypeScript sources: no build needed for tests
  resolve: { conditions: ['vain-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['vain-source', ...defaultServerConditions] } },
  test: {
    name: 'node',
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 90_000,
    // real processes and libp2p nodes: one file at a time on 2 cores
    fileParallelism: false,
    // …and in a group of its own (not beside the other projects): node processes, a chain and
    // training share 2 cores badly with the library tests (a CI run timed out the demo that way)
    sequence: { groupOrder: 1 },
  },
})
