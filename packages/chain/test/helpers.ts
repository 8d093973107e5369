import { createHash } from 'node:crypto'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  parseEther,
  type Transport,
  toHex,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { inject } from 'vitest'
import { connectVain, type DeployVainParams, deployVain, type VainClient, type VainDeployment } from '../src/index.js'

/** The run's shared local chain (see setup/global-chain.ts). */
export interface Shared {
  rpcUrl: string
  chain: Chain
  keys: Hex[]
  publicClient: PublicClient
  walletClient(i: number): WalletClient<Transport, Chain, Account>
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: bigint): Promise<void>
}

export function sharedChain(): Shared {
  const rpcUrl = inject('rpcUrl')
  const chain = defineChain({
    id: inject('chainId'),
    name: 'vAIn test',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  const keys = inject('privateKeys') as Hex[]
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: 50 }) as PublicClient
  const walletClient = (i: number): WalletClient<Transport, Chain, Account> =>
    createWalletClient({ chain, transport: http(rpcUrl), account: privateKeyToAccount(keys[i]!) })
  const request = (method: string, params: unknown[] = []) => publicClient.request({ method, params } as any)
  return {
    rpcUrl,
    chain,
    keys,
    publicClient,
    walletClient,
    async increaseTime(seconds: bigint) {
      await request('evm_increaseTime', [toHex(seconds)])
      await request('evm_mine')
    },
  }
}

/**
 * Deploys a fresh suite with account `deployerIndex` and returns clients for the deployer and for
 * accounts `nodeIndexes`, each funded with `fund` tokens.
 */
export async function freshSuite(
  shared: Shared,
  options: { deployer?: number; nodes: number[]; fund?: bigint; params?: DeployVainParams },
): Promise<{ deployment: VainDeployment; admin: VainClient; nodes: VainClient[] }> {
  const deployerIndex = options.deployer ?? 0
  const deployment = await deployVain(shared.walletClient(deployerIndex), options.params ?? {}, {
    publicClient: shared.publicClient,
  })
  const client = (i: number) =>
    connectVain({
      rpcUrl: shared.rpcUrl,
      addresses: deployment.addresses,
      privateKey: shared.keys[i]!,
      chain: shared.chain,
    })
  const admin = client(deployerIndex)
  const nodes = options.nodes.map(client)
  for (const n of nodes) await admin.token.transfer(n.account!, options.fund ?? parseEther('20000'))
  return { deployment, admin, nodes }
}

/**
 * A node's libp2p identity for tests: a secp256k1 key derived from `name` (the same name gives
 * the same key), and its peer id string.
 */
export function libp2pIdentity(name: string): { key: ReturnType<typeof privateKeyFromRaw>; peerId: string } {
  const key = privateKeyFromRaw(createHash('sha256').update(`vain-test-peer:${name}`).digest())
  return { key, peerId: peerIdFromPrivateKey(key).toString() }
}
