import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['vain-source'] },
  test: {
    name: 'net',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // libp2p nodes are real sockets: run files one after another on 2 cores
    fileParallelism: false,
  },
})
