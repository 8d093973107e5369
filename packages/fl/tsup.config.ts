import { defineConfig } from 'tsup'

export default defineConfig({
  // the simulation's worker thread is loaded by URL at run time, so it is an entry of its own
  entry: { index: 'src/index.ts', 'simulation-worker': 'src/simulation/worker.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
})
