import { cp, rm } from 'node:fs/promises'
import { defineConfig } from 'tsup'

/**
 * The `vain` CLI as built JavaScript: one ESM bundle, `dist/cli.js`, of this app's sources only.
 * Every bare import (the workspace's @vain/* packages — resolved from their built `dist` through
 * their `import` export condition — hardhat, onnxruntime-node, libp2p, fastify…) stays external and
 * is loaded from node_modules at run time. The dashboard's static files (src/http/dashboard/,
 * resolved from `import.meta.url`) are copied next to the bundle: `dist/dashboard/`.
 */
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  target: 'node22',
  platform: 'node',
  sourcemap: true,
  clean: true,
  dts: false,
  // chunks: the commands' heavy parts (the node, the chain, the demo) load only when used
  splitting: true,
  // bundle only this app's own modules
  external: [/^[^./]/],
  async onSuccess() {
    await rm('dist/dashboard', { recursive: true, force: true })
    await cp('src/http/dashboard', 'dist/dashboard', { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      // the dashboard is optional for the CLI's build (an older tree has none)
      if (err.code !== 'ENOENT') throw err
    })
  },
})
