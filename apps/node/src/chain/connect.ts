/**
 * Connecting a node (or a CLI command) to the vAIn contracts from its `chain` config section:
 * which key signs ({@link resolvePrivateKey}: a key, a local chain's development account, or
 * `VAIN_PRIVATE_KEY`), a client whose every request retries with backoff while the chain is
 * unreachable and reports each retry, deployment of a fresh suite for `addresses: "deploy"`, and a
 * queue that sends this account's transactions one at a time.
 * @module
 */
import { readFileSync, statSync } from 'node:fs'
import {
  connectVain,
  type DeployVainParams,
  deployVain,
  HARDHAT_MNEMONIC,
  type RetryInfo,
  retryingTransport,
  type VainAddresses,
  type VainClient,
  waitForChain,
} from '@vain/chain'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  defineChain,
  type Hex,
  http,
  parseEther,
  toHex,
} from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { AppConfigError, type ChainConfig } from '../config.js'
import type { Logger } from '../logger.js'

/**
 * Parameters of a suite deployed for development (`addresses: "deploy"`, `vain demo`): stake alone
 * decides the tier (no reputation thresholds, so fresh nodes can aggregate), short cooldown and
 * governance periods, anonymous voting on (TierGroups, VoteVerifier). Never use them on a real network.
 */
export const DEV_DEPLOY_PARAMS: DeployVainParams = {
  anonymousVoting: true,
  reputation: { minReputation: [0n, 0n, 0n] },
  staking: { cooldownSeconds: 300n },
  // quorum in VAIN × tier: one tier-3 node at the tier-3 minimum (10,000 VAIN × 3) reaches it
  governance: { votingPeriodSeconds: 120n, timelockSeconds: 60n, quorumVotes: parseEther('30000') },
}

/** The private key of development account `index` of Hardhat's well-known mnemonic. */
export function devAccountKey(index: number): Hex {
  const key = mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index }).getHdKey().privateKey
  if (key == null) throw new AppConfigError(`cannot derive development account ${index}`)
  return toHex(key)
}

/**
 * Reads a key file: 0x + 64 hex characters (surrounding whitespace ignored), a regular file that
 * only its owner may read (like ssh keys: mode 0600 or 0400).
 *
 * @throws {@link AppConfigError} naming the file when it is missing, open to others or not a key.
 */
export function readKeyFile(file: string): Hex {
  let text: string
  try {
    const st = statSync(file)
    if (!st.isFile()) throw new Error('not a regular file')
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new AppConfigError(
        `key file ${file} may be read by others (mode ${(st.mode & 0o777).toString(8)}): run chmod 600 ${file}`,
      )
    }
    if (st.size > 4096) throw new Error(`${st.size} bytes: not a key`)
    text = readFileSync(file, 'utf8').trim()
  } catch (err) {
    if (err instanceof AppConfigError) throw err
    throw new AppConfigError(`cannot read key file ${file}: ${(err as Error).message}`)
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) {
    throw new AppConfigError(`key file ${file} must hold 0x followed by 64 hex characters`)
  }
  return text as Hex
}

/**
 * The key this node signs with: `privateKey`, else development account `account`, else the key
 * in `keyFile`, else the `VAIN_PRIVATE_KEY` environment variable; `undefined` (read-only) if none.
 *
 * @throws {@link AppConfigError} when the key file or `VAIN_PRIVATE_KEY` does not hold a key.
 */
export function resolvePrivateKey(config: ChainConfig, env: NodeJS.ProcessEnv = process.env): Hex | undefined {
  if (config.privateKey !== undefined) return config.privateKey as Hex
  if (config.account !== undefined) return devAccountKey(config.account)
  if (config.keyFile !== undefined) return readKeyFile(config.keyFile)
  const fromEnv = env.VAIN_PRIVATE_KEY
  if (fromEnv === undefined || fromEnv === '') return undefined
  if (!/^0x[0-9a-fA-F]{64}$/.test(fromEnv)) {
    throw new AppConfigError('VAIN_PRIVATE_KEY must be 0x followed by 64 hex characters')
  }
  return fromEnv as Hex
}

// how amounts and addresses are shown: one definition, in @vain/chain (the demo imports them from here)
export { formatVain, shortAddress } from '@vain/chain'

/** Options of {@link connectChain}. */
export interface ConnectChainOptions {
  log: Logger
  /** Stops retries (node shutdown). */
  signal?: AbortSignal
  /** Called on each retry while the chain is unreachable (after the log line). */
  onRetry?: (info: RetryInfo) => void
  /** Overrides `config.retry.attempts` for every request. */
  attempts?: number
  /** Attempts while waiting for the chain to deploy a suite (default: as `attempts`; a node in the background: `Infinity`). */
  deployAttempts?: number
  /** Warn about a retry at most this often (default 10 s; the rest are logged at debug). 0: every retry. */
  reportEveryMs?: number
}

/** A node's connection to the vAIn contracts. */
export interface NodeChain {
  readonly rpcUrl: string
  readonly vain: VainClient
  readonly addresses: VainAddresses
  /** This node's address, or `undefined` for a read-only connection. */
  readonly address: Address | undefined
  /** Set when this connection deployed the suite (`addresses: "deploy"`). */
  readonly deployed: boolean
  /** Runs `send` after this account's earlier transactions (one nonce sequence, no races). */
  serial<T>(send: () => Promise<T>): Promise<T>
}

/** A reporter of retries that warns at most once every `everyMs` (many requests fail together), else logs at debug. */
export function retryReporter(
  rpcUrl: string,
  log: Logger,
  attempts: number,
  onRetry?: (info: RetryInfo) => void,
  everyMs = 10_000,
): (info: RetryInfo) => void {
  let last = Number.NEGATIVE_INFINITY
  return (info) => {
    const now = Date.now()
    const message = `chain ${rpcUrl} unreachable (attempt ${info.attempt}${Number.isFinite(attempts) ? `/${attempts}` : ''}): retrying in ${info.delayMs} ms`
    const cause = (info.error as Error)?.message?.split('\n')[0]
    if (now - last >= everyMs) {
      last = now
      log.warn(message, { cause })
    } else log.debug(message, { cause })
    onRetry?.(info)
  }
}

/**
 * Connects to the chain of `config`, deploying a fresh suite first when `addresses` is
 * `"deploy"` (with {@link DEV_DEPLOY_PARAMS}; a development chain only). Every request retries
 * while the chain is unreachable, as `config.retry` says, and reports each retry.
 *
 * @throws ChainUnavailableError when the chain stays unreachable; {@link AppConfigError} for a
 * bad key or a deployment without a key.
 * @example
 * ```ts
 * const chain = await connectChain(config.chain, { log })
 * const { tier } = await chain.vain.standing()
 * ```
 */
export async function connectChain(config: ChainConfig, options: ConnectChainOptions): Promise<NodeChain> {
  const privateKey = resolvePrivateKey(config)
  const attempts = options.attempts ?? config.retry.attempts
  const retry = {
    attempts,
    minDelayMs: config.retry.minDelayMs,
    maxDelayMs: config.retry.maxDelayMs,
    onRetry: retryReporter(config.rpcUrl, options.log, attempts, options.onRetry, options.reportEveryMs),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  }
  let addresses: VainAddresses
  let deployed = false
  if (config.addresses === 'deploy') {
    if (privateKey === undefined) {
      throw new AppConfigError(
        'chain.addresses "deploy" needs a key that pays for it: chain.account or VAIN_PRIVATE_KEY',
      )
    }
    const transport = retryingTransport(http(config.rpcUrl), retry)
    const publicClient = createPublicClient({ transport, pollingInterval: 100 })
    const deployAttempts = options.deployAttempts ?? attempts
    // wait for the endpoint with a plain transport: one retry policy, one report per attempt
    const probe = createPublicClient({ transport: http(config.rpcUrl, { retryCount: 0 }) })
    const chainId = await waitForChain(probe, {
      ...retry,
      attempts: deployAttempts,
      onRetry: retryReporter(config.rpcUrl, options.log, deployAttempts, options.onRetry, options.reportEveryMs),
    })
    const chain = defineChain({
      id: chainId,
      name: 'vAIn dev',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [config.rpcUrl] } },
    })
    const wallet = createWalletClient({ transport, chain, account: privateKeyToAccount(privateKey) })
    const deployment = await deployVain(wallet, DEV_DEPLOY_PARAMS, { publicClient: publicClient as never })
    addresses = deployment.addresses
    deployed = true
    options.log.info('deployed the vAIn suite (development parameters)', { ...addresses })
  } else {
    addresses = config.addresses as VainAddresses
  }
  const vain = connectVain({
    rpcUrl: config.rpcUrl,
    addresses,
    ...(privateKey !== undefined ? { privateKey } : {}),
    retry,
  })
  let tail: Promise<unknown> = Promise.resolve()
  return {
    rpcUrl: config.rpcUrl,
    vain,
    addresses,
    address: vain.account,
    deployed,
    serial<T>(send: () => Promise<T>): Promise<T> {
      const next = tail.then(send, send)
      tail = next.catch(() => {})
      return next
    },
  }
}
