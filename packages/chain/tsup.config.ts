import { defineConfig } from 'tsup'

export default defineConfig({
  // one entry per subpath export of package.json: `@vain/chain/settlement` needs @vain/fl, the root does not;
  // `@vain/chain/zk` loads snarkjs and circomlibjs, which nothing else pulls in
  entry: { index: 'src/index.ts', 'settlement/index': 'src/settlement/index.ts', 'zk/index': 'src/zk/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  // optional peer dependencies: hardhat is loaded on demand by startLocalChain, @vain/fl by the settlement entry
  external: ['hardhat', 'hardhat/hre', '@vain/fl'],
  // the committed circuit artefacts, checked against circuits/artifacts.json, ship in zk-artifacts/
  onSuccess: 'node scripts/copy-zk-artifacts.mjs',
})
