/**
 * `vain start`: run a node until SIGINT/SIGTERM. Prints one JSON "ready" line on stdout (peer id,
 * addresses, API URL) for scripts; logs go to stderr.
 * @module
 */
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { EXIT, EXIT_CODES_HELP, resolvePath, UsageError } from './common.js'

/** How long `vain start` waits for a graceful stop after SIGINT/SIGTERM before it exits anyway. */
const SHUTDOWN_DEADLINE_MS = 30_000

/** The options of `vain start`, as commander parses them. */
export interface StartOptions {
  config?: string
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  profile?: string
  roles?: string
  apiPort?: string
  api?: boolean
  mnistShard?: string
  alpha?: string
  chain?: string
  rpc?: string
  account?: string
  keyFile?: string
  addresses?: string
  acceptJobsFrom?: string[]
  json?: boolean
  verbose?: boolean
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

/** `--chain`, `--rpc`, `--account`, `--key-file`, `--addresses` as a (partial) chain section. */
export async function chainFlags(o: StartOptions): Promise<Record<string, unknown> | undefined> {
  const keyFile = resolvePath(o.keyFile)
  if (o.rpc === undefined && o.account === undefined && o.addresses === undefined && o.chain === undefined) {
    return keyFile === undefined ? undefined : { keyFile }
  }
  // a chain file gives the endpoint, the addresses and the first block; other flags override it
  let fromFile: { rpcUrl?: string | undefined; addresses?: unknown; fromBlock?: number | undefined } | undefined
  if (o.chain !== undefined) {
    try {
      const { readChainFile } = await import('../config.js')
      fromFile = (await readChainFile(resolvePath(o.chain))).chain
    } catch (err) {
      throw new UsageError(`--chain: ${(err as Error).message}`)
    }
  }
  let parsedAddresses: unknown
  if (o.addresses === 'deploy') parsedAddresses = 'deploy'
  else if (o.addresses !== undefined) {
    const file = resolvePath(o.addresses)
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8'))
      parsedAddresses = parsed?.chain?.addresses ?? parsed?.addresses ?? parsed
    } catch (err) {
      throw new UsageError(`--addresses: cannot read the suite's addresses from ${file}: ${(err as Error).message}`)
    }
  }
  return {
    rpcUrl: o.rpc ?? fromFile?.rpcUrl,
    account: o.account === undefined ? undefined : Number(o.account),
    keyFile,
    addresses: parsedAddresses ?? fromFile?.addresses,
    fromBlock: fromFile?.fromBlock,
  }
}

/** `--accept-jobs-from PEER|staked|any` (repeatable) → the config's `jobs` section. */
export function acceptFlag(values: string[] | undefined): { accept: 'any' | 'staked' | string[] } | undefined {
  if (values === undefined) return undefined
  if (values.includes('any')) return { accept: 'any' }
  if (values.includes('staked')) {
    if (values.length > 1) throw new UsageError('--accept-jobs-from staked cannot be combined with peer ids')
    return { accept: 'staked' }
  }
  return { accept: values }
}

/** The config flags of `vain start`, merged over the config file by `loadAppConfig`. */
async function startFlags(o: StartOptions): Promise<Record<string, unknown>> {
  const shard = o.mnistShard
  const shardMatch = shard === undefined ? undefined : /^(\d+)\/(\d+)$/.exec(shard)
  if (shard !== undefined && shardMatch === null)
    throw new UsageError(`--mnist-shard must look like I/N (e.g. 0/5), got '${shard}'`)
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got '${v}'`)
    return n
  }
  return {
    dataDir: resolvePath(o.dataDir),
    listen: o.listen,
    bootstrap: o.bootstrap,
    profile: o.profile,
    roles: typeof o.roles === 'string' ? o.roles.split(',').map((r) => r.trim()) : undefined,
    apiPort: o.api === false ? null : num(o.apiPort, '--api-port'),
    data:
      shardMatch != null
        ? {
            dataset: 'mnist',
            shard: Number(shardMatch[1]),
            shards: Number(shardMatch[2]),
            ...(o.alpha !== undefined ? { alpha: num(o.alpha, '--alpha') } : {}),
          }
        : undefined,
    logLevel: o.verbose === true ? 'debug' : undefined,
    json: o.json,
    chain: await chainFlags(o),
    jobs: acceptFlag(o.acceptJobsFrom),
  }
}

async function start(o: StartOptions): Promise<void> {
  // loaded on use: the node (libp2p, onnxruntime, the chain client) is not needed for --help
  const { loadAppConfig } = await import('../config.js')
  const { createLogger } = await import('../logger.js')
  const { startVainNode } = await import('../runtime.js')
  const flags = await startFlags(o)
  const config = await loadAppConfig(resolvePath(o.config), flags)
  const log = createLogger({ level: config.logLevel, json: config.json, name: 'vain' })
  let running: Awaited<ReturnType<typeof startVainNode>>
  try {
    running = await startVainNode(config, log)
  } catch (err) {
    const e = err as Error
    log.error('could not start the node', { error: e.name, message: e.message })
    process.exit(e.name === 'ConfigError' || e.name === 'IdentityError' ? EXIT.usage : EXIT.failure)
  }
  // one line on stdout for scripts (the demo reads it): who we are and where to reach us
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      peerId: running.node.peerId.toString(),
      multiaddrs: running.node.multiaddrs.map(String),
      api: running.api?.url ?? null,
      samples: running.localSamples,
    })}\n`,
  )
  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`)
      process.exit(EXIT.failure)
    }
    stopping = true
    log.info(`${signal}: shutting down (send it again to exit at once)`)
    // a stop that hangs (a peer, a disk, a chain) must not keep the process: exit after a deadline
    setTimeout(() => {
      log.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting`)
      process.exit(EXIT.failure)
    }, SHUTDOWN_DEADLINE_MS).unref()
    void running.stop().then(
      () => process.exit(EXIT.ok),
      () => process.exit(EXIT.failure),
    )
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

/** Registers `vain start`. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run a node until SIGINT/SIGTERM')
    .option('-c, --config <file>', 'JSON config file (flags override it)')
    .option(
      '-d, --data-dir <dir>',
      'identity, peers, models, job state and the API token (required); one node per data dir (it holds DIR/LOCK while it runs)',
    )
    .option('-l, --listen <addr>', 'listen multiaddr (repeatable), default /ip4/127.0.0.1/tcp/0', collect)
    .option('-b, --bootstrap <addr>', 'bootstrap peer /…/p2p/<id> (repeatable)', collect)
    .option('--profile <p>', 'loopback | lan | public (default lan)')
    .option('--roles <r[,r]>', 'trainer, aggregator, validator, light (default trainer,aggregator)')
    .option('--api-port <n>', 'local REST API port on 127.0.0.1 (0 = any free port, default 0)')
    .option('--no-api', 'no REST API')
    .option('--mnist-shard <i/n>', 'train on MNIST shard I of N (non-IID, Dirichlet alpha)')
    .option('--alpha <a>', 'Dirichlet alpha of the shards (default 0.5)')
    .option(
      '--accept-jobs-from <peer|staked|any>',
      'take on jobs from this creator (repeatable), from creators staked on chain who fund their rounds (the default with a chain), or from any creator; without a chain and this flag: only its own jobs',
      collect,
    )
    .option(
      '--chain <file>',
      "the chain and the suite's addresses, from the file vain chain up / vain chain deploy wrote",
    )
    .option('--rpc <url>', "chain JSON-RPC endpoint (the config's chain.rpcUrl)")
    .option('--account <n>', "sign with a local chain's development account N (chain.account)")
    .option('--key-file <file>', 'sign with the key in FILE (0x + 64 hex, mode 0600; chain.keyFile)')
    .option('--addresses <file|deploy>', "the vAIn suite's addresses (JSON), or deploy one (development chains)")
    .option('--json', 'machine-readable logs (one JSON object per line)')
    .option('-v, --verbose', 'debug logs')
    .addHelpText(
      'after',
      `
With a "chain" section (or --rpc, --chain), eligibility is read from chain ("staked and tier >= the
role's tier": aggregators tier 3), the node registers its peer id, committees settle rounds on chain
and trainers claim rewards. The key comes from chain.privateKey, chain.account, chain.keyFile or
VAIN_PRIVATE_KEY — never put a key on the command line. Relative paths resolve against the directory
you run vain from.
stdout: one line {"ready":true,"peerId","multiaddrs","api","samples"} once the node is up; logs on stderr.
${EXIT_CODES_HELP}`,
    )
    .action(async (o: StartOptions) => start(o))
}
