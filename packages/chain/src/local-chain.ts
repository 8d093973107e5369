/**
 * A local chain for demos and tests: Hardhat's simulated network (EDR), in this process, served
 * over HTTP JSON-RPC on 127.0.0.1 on a free port, with funded accounts from Hardhat's default
 * mnemonic. Any JSON-RPC URL works in its place. Needs the optional peer dependency `hardhat`.
 *
 * @example
 * ```ts
 * import { startLocalChain } from '@vain/chain'
 *
 * const chain = await startLocalChain()
 * console.log(chain.rpcUrl)                // http://127.0.0.1:40123
 * console.log(chain.accounts[0]!.address)  // 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266, 10,000 ETH
 * await chain.stop()
 * ```
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  type Account,
  type Address,
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
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { HardhatMissingError, InvalidInputError } from './errors.js'
import { jsonNestingDepth } from './json-depth.js'

/** Hardhat's well-known development mnemonic: never use these keys on a real network. */
export const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk'

/** Options of {@link startLocalChain}. */
export interface LocalChainOptions {
  /** Funded accounts (default 20). */
  accounts?: number
  /** Balance of each account (default 10,000 ETH). */
  balance?: bigint
  /** Default 31337. */
  chainId?: number
  /** Default 0: a free port. */
  port?: number
  /** Only loopback hosts are accepted (default 127.0.0.1). */
  hostname?: '127.0.0.1' | 'localhost' | '::1'
  /** Mine a block every `intervalMs` in addition to one per transaction (default: off). */
  intervalMs?: number
}

/** A funded development account. */
export interface LocalAccount {
  address: Address
  privateKey: Hex
}

/** A running local chain. */
export interface LocalChain {
  /** `http://127.0.0.1:PORT` */
  readonly rpcUrl: string
  readonly port: number
  /** A viem chain for this network (id, RPC URL). */
  readonly chain: Chain
  readonly accounts: readonly LocalAccount[]
  /** A public client on this chain (fast polling). */
  publicClient(): PublicClient
  /** A wallet client signing with account `index` (default 0). */
  walletClient(index?: number): WalletClient<Transport, Chain, Account>
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number | bigint): Promise<void>
  /** Mines `blocks` empty blocks. */
  mine(blocks?: number): Promise<void>
  /** Closes the server and the simulated network. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

type Provider = { request(args: { method: string; params?: unknown }): Promise<unknown> }

/**
 * Starts Hardhat's simulated network and serves it on 127.0.0.1.
 *
 * @throws {@link HardhatMissingError} when `hardhat` is not installed.
 */
export async function startLocalChain(options: LocalChainOptions = {}): Promise<LocalChain> {
  const count = options.accounts ?? 20
  const chainId = options.chainId ?? 31337
  const hostname = options.hostname ?? '127.0.0.1'
  if (!['127.0.0.1', 'localhost', '::1'].includes(hostname)) {
    throw new InvalidInputError(`startLocalChain serves on loopback only, not ${hostname}`)
  }
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new InvalidInputError('accounts must be 1..1000')

  let hre: typeof import('hardhat/hre')
  try {
    hre = await import('hardhat/hre')
  } catch (err) {
    throw new HardhatMissingError(
      'startLocalChain needs `hardhat` (an optional peer dependency): `pnpm add -D hardhat`',
      {
        cause: err,
      },
    )
  }
  const accountsBalance = (options.balance ?? parseEther('10000')).toString()
  const runtime = await hre.createHardhatRuntimeEnvironment(
    {
      networks: {
        vain: {
          type: 'edr-simulated',
          chainId,
          accounts: { mnemonic: HARDHAT_MNEMONIC, count, accountsBalance },
          ...(options.intervalMs === undefined ? {} : { mining: { auto: true, interval: options.intervalMs } }),
        },
      },
    },
    {},
    process.cwd(),
  )
  const connection = await runtime.network.create({ network: 'vain' })
  const provider = connection.provider as unknown as Provider

  const server = createServer((req, res) => void serve(provider, req, res))
  server.keepAliveTimeout = 1_000
  await listen(server, options.port ?? 0, hostname)
  const port = (server.address() as AddressInfo).port
  const host = hostname === '::1' ? '[::1]' : hostname
  const rpcUrl = `http://${host}:${port}`

  const accounts: LocalAccount[] = Array.from({ length: count }, (_, i) => {
    const hd = mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: i })
    const privateKey = toHex(hd.getHdKey().privateKey!)
    return { address: hd.address, privateKey }
  })
  const chain = defineChain({
    id: chainId,
    name: `vAIn local (${port})`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })

  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await connection.close()
    })()
    return stopped
  }

  return {
    rpcUrl,
    port,
    chain,
    accounts,
    publicClient: () => createPublicClient({ chain, transport: http(rpcUrl), pollingInterval: 50 }) as PublicClient,
    walletClient: (index = 0) => {
      const a = accounts[index]
      if (a === undefined) throw new InvalidInputError(`no account ${index} (this chain has ${accounts.length})`)
      return createWalletClient({ chain, transport: http(rpcUrl), account: privateKeyToAccount(a.privateKey) })
    },
    async increaseTime(seconds) {
      await provider.request({ method: 'evm_increaseTime', params: [toHex(BigInt(seconds))] })
      await provider.request({ method: 'evm_mine', params: [] })
    },
    async mine(blocks = 1) {
      await provider.request({ method: 'hardhat_mine', params: [toHex(blocks)] })
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

function listen(server: Server, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, hostname, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

const MAX_BODY = 32 * 1024 * 1024
/**
 * Deepest JSON nesting of a request body (a batch of calls with state overrides nests about 6):
 * deeper bodies are answered with an error before they are parsed (the provider, and the reply's
 * `JSON.stringify` of the request's id, recurse per level).
 */
const MAX_BODY_DEPTH = 64

/** JSON-RPC 2.0 over HTTP POST, single or batch, answering each request from the provider. */
async function serve(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('Access-Control-Allow-Origin', '*')
  res.setHeader('Access-Control-Allow-Headers', 'content-type')
  if (req.method === 'OPTIONS') {
    res.writeHead(204).end()
    return
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end()
    return
  }
  let size = 0
  const chunks: Buffer[] = []
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY) {
        res.writeHead(413).end()
        req.destroy()
        return
      }
      chunks.push(chunk as Buffer)
    }
  } catch {
    return
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (jsonNestingDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    const message = `Invalid request: nested deeper than ${MAX_BODY_DEPTH} levels`
    reply(res, { jsonrpc: '2.0', id: null, error: { code: -32600, message } })
    return
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    reply(res, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })
    return
  }
  const answer = Array.isArray(body)
    ? await Promise.all(body.map((r) => handle(provider, r)))
    : await handle(provider, body)
  reply(res, answer)
}

async function handle(provider: Provider, request: any): Promise<unknown> {
  const id = request?.id ?? null
  if (request === null || typeof request !== 'object' || typeof request.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: -32600, message: 'Invalid request' } }
  }
  try {
    const result = await provider.request({ method: request.method, params: request.params ?? [] })
    return { jsonrpc: '2.0', id, result: result ?? null }
  } catch (err: any) {
    const error: { code: number; message: string; data?: unknown } = {
      code: typeof err?.code === 'number' ? err.code : -32603,
      message: String(err?.message ?? err),
    }
    if (err?.data !== undefined) error.data = err.data
    return { jsonrpc: '2.0', id, error }
  }
}

function reply(res: ServerResponse, body: unknown): void {
  if (res.destroyed) return
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? toHex(v) : v))
  res.writeHead(200, { 'content-type': 'application/json' }).end(text)
}
