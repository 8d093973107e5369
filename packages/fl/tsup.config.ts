import { defineConfig } from 'tsup'

// one entry per subpath export of package.json: `@vain/fl/aggregators` and the other light entries
// never load onnxruntime-node (training loads it on first use)
const subpaths = [
  'aggregators',
  'attacks',
  'codecs',
  'data',
  'models',
  'onnx',
  'personalization',
  'privacy',
  'registry',
  'round',
  'simulation',
  'strategies',
  'train',
] as const

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    ...Object.fromEntries(subpaths.map((s) => [s, `src/${s}/index.ts`])),
    // the round over @vain/net and @vain/memory (optional peer dependencies, loaded only by these)
    'vain-net': 'src/adapters/vain-net/index.ts',
    'vain-memory': 'src/adapters/vain-memory/index.ts',
    // the simulation's worker thread is loaded by URL at run time, so it is an entry of its own
    'simulation-worker': 'src/simulation/worker.ts',
  },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
})
