/**
 * `vain chain up` and `vain chain deploy`: a chain that lives outside the nodes.
 *
 * - `vain chain up` runs a local development chain (Hardhat's simulated network, served on
 *   127.0.0.1) as its own long-running process, deploys the vAIn suite on it, funds development
 *   accounts, and writes a chain file that `vain start --chain FILE` and the chain commands read.
 * - `vain chain deploy` deploys the suite on any EVM JSON-RPC endpoint with a key from
 *   `--key-file FILE` or `VAIN_PRIVATE_KEY` (never from the command line) and writes the same file.
 *
 * Two parameter profiles: `development` (stake alone decides the tier, short periods, and the
 * deployer KEEPS every admin role — said loudly) and `production` (the suite's defaults, and every
 * admin role handed to governance: no externally owned account holds one afterwards).
 * @module
 */
import { chmod, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type DeployVainParams,
  deployVain,
  type LocalChain,
  startLocalChain,
  type VainDeployment,
  vainTokenAbi,
  waitForChain,
} from '@vain/chain'
import {
  type Address,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  type Hex,
  http,
  isAddress,
  parseEther,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { DEV_DEPLOY_PARAMS, readKeyFile, shortAddress } from './chain/connect.js'
import { AppConfigError, type ChainFile } from './config.js'

export { CHAIN_UP_HELP } from './commands/chain-help.js'

/**
 * Parameters of a deployment profile; `genesis` are the addresses a new network's Reputation starts
 * at tier 3 with (its bootstrap committee; their reputation decays unless they keep settling rounds).
 */
export function profileParams(
  profile: 'development' | 'production',
  genesis: readonly Address[] = [],
): DeployVainParams {
  const base: DeployVainParams =
    profile === 'development'
      ? { ...DEV_DEPLOY_PARAMS, admin: 'deployer' }
      : { admin: 'governance', anonymousVoting: true }
  return genesis.length > 0 ? { ...base, genesis: { members: genesis } } : base
}

/** `--genesis ADDR[,ADDR…]` of `vain chain deploy`. */
function genesisFlag(value: string | undefined): Address[] {
  if (value === undefined || value === '') return []
  const list = value.split(',').map((a) => a.trim())
  for (const a of list) {
    if (!isAddress(a)) throw new AppConfigError(`--genesis: '${a}' is not an address`)
  }
  if (list.length > 64) throw new AppConfigError('--genesis: at most 64 members')
  return list.map((a) => getAddress(a))
}

/** The loud line a development deployment prints: what the deployer keeps. */
export function developmentWarning(deployer: string): string {
  return (
    `DEVELOPMENT PARAMETERS: the deployer ${deployer} keeps DEFAULT_ADMIN, GOVERNOR and OPENER on ` +
    'Staking, Reputation and RoundManager (it can change every parameter and open rounds); the keys ' +
    "are Hardhat's public development mnemonic. Never use this chain for anything of value."
  )
}

/** Writes a chain file atomically (temp file, then rename), readable by everyone (it holds no secret). */
export async function writeChainFile(file: string, content: ChainFile): Promise<void> {
  const tmp = join(dirname(file), `.${Date.now()}-${process.pid}.vain-chain.tmp`)
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`)
  await chmod(tmp, 0o644)
  await rename(tmp, file)
}

/** The addresses a chain file lists: the suite's, and the anonymous-voting contracts' when deployed. */
export function fileAddresses(deployment: VainDeployment): ChainFile['chain']['addresses'] {
  const anon = deployment.anonymousVoting
  return anon === undefined
    ? deployment.addresses
    : { ...deployment.addresses, tierGroups: anon.tierGroups, voteVerifier: anon.voteVerifier }
}

const FUND_EACH = parseEther('20000')

/** A running `vain chain up`. */
export interface ChainUp {
  chain: LocalChain
  deployment: VainDeployment
  file: ChainFile
  stop(): Promise<void>
}

/**
 * Starts a local chain, deploys the suite with `profile`'s parameters from development account 0,
 * funds accounts 1..`fund` and writes the chain file to `out`.
 */
export async function chainUp(options: {
  port: number
  out: string
  profile: 'development' | 'production'
  fund: number
  /** Development accounts 1..genesis form the genesis set. Default 0. */
  genesis?: number
  say: (line: string) => void
}): Promise<ChainUp> {
  const chain = await startLocalChain({ port: options.port, accounts: Math.max(20, options.fund + 1) })
  try {
    const wallet = chain.walletClient(0)
    const genesis = Array.from({ length: options.genesis ?? 0 }, (_, i) => chain.accounts[i + 1]!.address)
    const deployment = await deployVain(wallet, profileParams(options.profile, genesis), {
      publicClient: chain.publicClient(),
    })
    const deployer = chain.accounts[0]!.address
    for (let i = 1; i <= options.fund; i++) {
      const hash = await wallet.writeContract({
        address: deployment.addresses.token,
        abi: vainTokenAbi,
        functionName: 'transfer',
        args: [chain.accounts[i]!.address, FUND_EACH],
      })
      await chain.publicClient().waitForTransactionReceipt({ hash })
    }
    const file: ChainFile = {
      chain: { rpcUrl: chain.rpcUrl, addresses: fileAddresses(deployment), fromBlock: 0 },
      chainId: chain.chain.id,
      profile: options.profile,
    }
    await writeChainFile(options.out, file)
    options.say(`local chain on ${chain.rpcUrl} (chain id ${chain.chain.id}), its own process (pid ${process.pid})`)
    options.say(
      `deployed the vAIn suite (${options.profile} parameters) with anonymous voting (TierGroups, VoteVerifier), block ${deployment.blockNumber}`,
    )
    if (genesis.length > 0) options.say(`genesis set (tier 3 from the start): accounts 1..${genesis.length}`)
    if (options.profile === 'development') options.say(developmentWarning(deployer))
    else options.say('every admin role is held by governance: no account keeps one')
    if (options.fund > 0) {
      options.say(
        `funded development accounts 1..${options.fund} with 20,000 VAIN each (account 0, ${shortAddress(deployer)}, holds the rest)`,
      )
    }
    options.say(`wrote ${options.out}: vain start --chain ${options.out} -d DIR --account N`)
    return { chain, deployment, file, stop: () => chain.stop() }
  } catch (err) {
    await chain.stop()
    throw err
  }
}

function intFlag(value: unknown, flag: string, min: number, max: number): number {
  const n = Number(value)
  if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
    throw new AppConfigError(`${flag} must be an integer in ${min}..${max}, got '${String(value)}'`)
  }
  return n
}

function profileFlag(value: unknown, fallback: 'development' | 'production'): 'development' | 'production' {
  if (value === undefined) return fallback
  if (value !== 'development' && value !== 'production') {
    throw new AppConfigError(`--params must be development or production, got '${String(value)}'`)
  }
  return value
}

/**
 * Runs `vain chain up|deploy ARGS` and returns the exit code (0 ok, 1 failure, 2 usage). `up`
 * resolves only once the chain stopped (SIGINT/SIGTERM).
 */
export async function runChainUp(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  const out = (line: string) => process.stderr.write(`${line}\n`)
  try {
    if (sub === 'up') {
      const { values } = parseArgs({
        args: rest,
        options: {
          port: { type: 'string', default: '8545' },
          out: { type: 'string', default: 'vain-chain.json' },
          params: { type: 'string' },
          fund: { type: 'string', default: '10' },
          genesis: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
        strict: true,
      })
      const up = await chainUp({
        port: intFlag(values.port, '--port', 0, 65_535),
        out: values.out,
        profile: profileFlag(values.params, 'development'),
        fund: intFlag(values.fund, '--fund', 0, 999),
        genesis: values.genesis === undefined ? 0 : intFlag(values.genesis, '--genesis', 1, 64),
        say: out,
      })
      process.stdout.write(
        `${JSON.stringify({ ready: true, rpcUrl: up.chain.rpcUrl, file: values.out, addresses: up.file.chain.addresses })}\n`,
      )
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          out(`${signal}: stopping the chain`)
          resolve()
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
      await up.stop()
      return 0
    }
    if (sub === 'deploy') {
      const { values } = parseArgs({
        args: rest,
        options: {
          rpc: { type: 'string' },
          out: { type: 'string', default: 'vain-chain.json' },
          params: { type: 'string' },
          'key-file': { type: 'string' },
          genesis: { type: 'string' },
        },
        strict: true,
      })
      const genesis = genesisFlag(values.genesis)
      if (values.rpc === undefined || !/^https?:\/\//.test(values.rpc)) {
        throw new AppConfigError('--rpc URL (http or https) is required')
      }
      const fromEnv = process.env.VAIN_PRIVATE_KEY
      let key: Hex
      if (values['key-file'] !== undefined) key = readKeyFile(values['key-file'])
      else if (fromEnv !== undefined && /^0x[0-9a-fA-F]{64}$/.test(fromEnv)) key = fromEnv as Hex
      else {
        throw new AppConfigError(
          'the deployer key comes from --key-file FILE (mode 0600) or VAIN_PRIVATE_KEY (0x + 64 hex), never from the command line',
        )
      }
      const profile = profileFlag(values.params, 'production')
      const probe = createPublicClient({ transport: http(values.rpc, { retryCount: 0 }) })
      const chainId = await waitForChain(probe, {
        attempts: 6,
        minDelayMs: 200,
        maxDelayMs: 5_000,
        onRetry: (i) => out(`chain ${values.rpc} unreachable (attempt ${i.attempt}/6): retrying in ${i.delayMs} ms`),
      })
      const chain = defineChain({
        id: chainId,
        name: 'vAIn',
        nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
        rpcUrls: { default: { http: [values.rpc] } },
      })
      const account = privateKeyToAccount(key)
      const publicClient = createPublicClient({ transport: http(values.rpc), chain })
      const wallet = createWalletClient({ transport: http(values.rpc), chain, account })
      const deployment = await deployVain(wallet, profileParams(profile, genesis), {
        publicClient: publicClient as never,
      })
      await writeChainFile(values.out, {
        chain: {
          rpcUrl: values.rpc,
          addresses: fileAddresses(deployment),
          fromBlock: Number(deployment.blockNumber),
        },
        chainId,
        profile,
      })
      out(`deployed the vAIn suite on chain ${chainId} (${profile} parameters), gas ${deployment.gasUsed}`)
      if (profile === 'development') out(developmentWarning(account.address))
      else out('every admin role is held by governance: no account keeps one')
      out(`wrote ${values.out}`)
      process.stdout.write(`${JSON.stringify({ ok: true, file: values.out, addresses: fileAddresses(deployment) })}\n`)
      return 0
    }
    throw new AppConfigError(`unknown command 'vain chain ${sub ?? ''}': use vain chain up or vain chain deploy`)
  } catch (err) {
    const e = err as Error
    const usage = e instanceof AppConfigError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    process.stderr.write(`vain chain: ${e.message}\n`)
    return usage ? 2 : 1
  }
}
