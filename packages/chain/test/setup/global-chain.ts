import type { TestProject } from 'vitest/node'
import { type LocalChain, startLocalChain } from '../../src/index.js'

let chain: LocalChain | undefined

/** Starts one local chain for the run and hands its URL and keys to the test files. */
export async function setup(project: TestProject) {
  chain = await startLocalChain({ accounts: 20 })
  project.provide('rpcUrl', chain.rpcUrl)
  project.provide('chainId', chain.chain.id)
  project.provide(
    'privateKeys',
    chain.accounts.map((a) => a.privateKey),
  )
}

export async function teardown() {
  await chain?.stop()
}

declare module 'vitest' {
  export interface ProvidedContext {
    rpcUrl: string
    chainId: number
    privateKeys: `0x${string}`[]
  }
}
