import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  // optional peer dependency, loaded on demand by startLocalChain
  external: ['hardhat', 'hardhat/hre'],
})
