import { defaultServerConditions } from 'vite'
import { defineProject } from 'vitest/config'

export default defineProject({
  // resolve workspace packages (@vain/fl) to their TypeScript sources: no build needed for tests
  resolve: { conditions: ['vain-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['vain-source', ...defaultServerConditions] } },
  test: {
    name: 'chain',
    include: ['test/**/*.test.ts'],
    // one Hardhat network on 127.0.0.1 for the whole run; each test file deploys its own suite
    globalSetup: ['test/setup/global-chain.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // 2 shared cores: files one after another
    fileParallelism: false,
  },
})
