import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', 'vain-net': 'src/vain-net.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  // the bounded CBOR decoders of @vain/net/wire are bundled in: @vain/net is an optional peer,
  // needed only by the ./vain-net adapter
  noExternal: ['@vain/net/wire'],
})
