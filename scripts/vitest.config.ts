import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'repo',
    include: ['test/**/*.test.ts'],
    // packing, an npm install of the whole dependency tree and a strict type check
    testTimeout: 1_200_000,
    hookTimeout: 1_200_000,
  },
})
