import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', 'vain-net': 'src/vain-net.ts', feed: 'src/feed/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
})
