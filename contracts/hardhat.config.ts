import { createRequire } from 'node:module'
import hardhatToolboxViem from '@nomicfoundation/hardhat-toolbox-viem'
import { defineConfig } from 'hardhat/config'

const require = createRequire(import.meta.url)

export default defineConfig({
  plugins: [hardhatToolboxViem],
  solidity: {
    // solc-js from the `solc` npm package: nothing is downloaded at build time
    version: require('solc/package.json').version,
    path: require.resolve('solc/soljson.js'),
    // TierGroups links poseidon-solidity's PoseidonT3 (an external library): build its artifact too
    npmFilesToBuild: ['poseidon-solidity/PoseidonT3.sol'],
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
    },
  },
  paths: {
    tests: { solidity: './test/solidity', nodejs: './test/ts' },
  },
  test: {
    solidity: {
      fuzz: { runs: 256 },
      invariant: { runs: 32, depth: 25 },
    },
  },
})
