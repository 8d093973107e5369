/**
 * `vain` — the vAIn reference node.
 *
 *   vain start [options]          run a node
 *   vain demo [options]           a local network of nodes (separate processes) training MNIST
 *   vain job submit|status        talk to a running node's REST API
 *   vain peers                    list a running node's peers
 *   vain model export             save a model as a standard ONNX file
 *   vain stake|unstake|tier       stake and tiers on chain
 *   vain propose|vote|proposal    governance
 *   vain chain up|deploy          a chain outside the nodes
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { API_TOKEN_FILE } from './api.js'
import { CHAIN_COMMANDS, CHAIN_HELP, runChainCommand } from './chain-cli.js'
import { CHAIN_UP_HELP, runChainUp } from './chain-up.js'
import { AppConfigError, loadAppConfig, readChainFile } from './config.js'
import { runDemo } from './demo.js'
import { createLogger } from './logger.js'
import { type ResourcesSnapshot, renderResources } from './resources.js'
import { startVainNode } from './runtime.js'

/** How long `vain start` waits for a graceful stop after SIGINT/SIGTERM before it exits anyway. */
const SHUTDOWN_DEADLINE_MS = 30_000

const HELP = `vain — the vAIn reference node (decentralized federated learning)

Usage:
  vain start [options]                 run a node until SIGINT/SIGTERM
  vain demo [options]                  run a local vAIn network on 127.0.0.1 training MNIST
  vain job submit --api URL -d DIR FILE.json
                                       submit a job (a JSON job spec) through a node
  vain job status --api URL JOB_ID     show a job's progress
  vain job cancel --api URL JOB_ID     stop taking part in a job (not resumed after a restart)
  vain peers --api URL                 list a node's peers
  vain resources --api URL             a node's CPU, memory, disk, network, GPU, battery, training
                                       scheduler, anomalies and training progress (as bars)
  vain model export --api URL CID -o FILE.onnx
                                       save a model as a standard ONNX inference model
  vain stake|unstake|tier|propose|vote|proposal
                                       stake, tiers and governance on chain (below)
  vain chain up|deploy                 run a local chain in its own process, or deploy the
                                       suite on any EVM endpoint; writes a chain file (below)
  vain help                            this text

start options:
  -c, --config FILE        JSON config file (flags override it)
  -d, --data-dir DIR       identity, peers, models, job state and the API token (required);
                           one node per data dir (it holds DIR/LOCK while it runs)
  -l, --listen ADDR        listen multiaddr (repeatable), default /ip4/127.0.0.1/tcp/0
  -b, --bootstrap ADDR     bootstrap peer /…/p2p/<id> (repeatable)
      --profile P          loopback | lan | public (default lan)
      --roles R[,R]        trainer, aggregator, validator, light (default trainer,aggregator)
      --api-port N         local REST API port on 127.0.0.1 (0 = any free port, default 0)
      --no-api             no REST API
      --mnist-shard I/N    train on MNIST shard I of N (non-IID, Dirichlet alpha)
      --accept-jobs-from PEER|staked|any
                           take on jobs from this creator (repeatable), from creators staked
                           on chain who fund their rounds (the default with a chain), or from
                           any creator; without a chain and this flag: only its own jobs
      --alpha A            Dirichlet alpha of the shards (default 0.5)
      --chain FILE         the chain and the suite's addresses, from the file that
                           vain chain up / vain chain deploy wrote (chain.rpcUrl, addresses)
      --rpc URL            chain JSON-RPC endpoint (the config's chain.rpcUrl)
      --account N          sign with a local chain's development account N (chain.account)
      --key-file FILE      sign with the key in FILE (0x + 64 hex, mode 0600; chain.keyFile)
      --addresses FILE|deploy
                           the vAIn suite's addresses (JSON), or deploy one (development chains)
      --json               machine-readable logs (one JSON object per line)
  -v, --verbose            debug logs
  With a "chain" section (or --rpc), eligibility is read from chain ("staked and tier >= the
  role's tier": aggregators tier 3), the node registers its peer id, committees settle rounds
  on chain and trainers claim rewards. The key comes from chain.privateKey, chain.account,
  chain.keyFile or VAIN_PRIVATE_KEY — never put a key on the command line.

job, peers and model options:
      --api URL            the node's REST API (it prints it at start: "REST API listening")
  -d, --data-dir DIR       the node's data dir: its API token is read from DIR/api-token
  Requests that change the node (job submit) need its API token: from --data-dir DIR, else
  the VAIN_API_TOKEN environment variable. The API answers only on 127.0.0.1/localhost.

demo options:
  -n, --nodes N            nodes, 2-50 (default 5)
  -r, --rounds N           rounds (default 20; 4 with --proofs)
      --target ACC         stop early at this test accuracy, 0-1 (default 0.9)
      --codec NAME         update codec: top-k (default), int8, fp16, fp32, dense
      --secure-aggregation committee members see only the sum of the updates (masked,
                           dense fixed point: implies --codec dense)
      --regions N          two-level aggregation: N regional committees (2-64) feed a
                           root committee (for networks too large for one committee)
      --json               print one JSON summary line at the end, no progress bars
      --keep               keep the temporary data directories
      --no-chain           no local chain (no stake, tiers, settlement or rewards)
      --proofs             proven updates (top-k 512 int8 with 2 Groth16 norm proofs each,
                           checked by the committee; seconds per proof, so slower rounds) and,
                           after training, an anonymous governance vote: the nodes join their
                           tier groups, one proposes, several vote through a relayer
  -v, --verbose            per-node logs

${CHAIN_HELP}
${CHAIN_UP_HELP}
Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.
`

function usage(message: string): never {
  process.stderr.write(`vain: ${message}\n\nRun 'vain help' for usage.\n`)
  process.exit(2)
}

/** The node's API token: `<dataDir>/api-token` with `--data-dir`, else `VAIN_API_TOKEN`. */
async function apiToken(dataDir: string | undefined): Promise<string | undefined> {
  if (dataDir !== undefined) {
    const file = join(dataDir, API_TOKEN_FILE)
    try {
      return (await readFile(file, 'utf8')).trim()
    } catch (err) {
      usage(`cannot read the node's API token from ${file}: ${(err as Error).message}`)
    }
  }
  const env = process.env.VAIN_API_TOKEN?.trim()
  return env === undefined || env === '' ? undefined : env
}

async function api(
  base: string | undefined,
  path: string,
  init: RequestInit & { token?: string | undefined } = {},
): Promise<unknown> {
  if (base === undefined) usage('--api URL is required (the node prints it at start: "REST API listening")')
  const { token, ...rest } = init
  const headers = new Headers(rest.headers)
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`)
  let res: Response
  try {
    res = await fetch(new URL(path, base), { ...rest, headers })
  } catch (err) {
    process.stderr.write(`vain: cannot reach ${base}: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const type = res.headers.get('content-type') ?? ''
  const body: unknown = type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer())
  if (!res.ok) {
    const e = body as { error?: string; message?: string }
    process.stderr.write(`vain: ${e.error ?? res.status}: ${e.message ?? ''}\n`)
    process.exit(1)
  }
  return body
}

/** `--chain`, `--rpc`, `--account`, `--key-file`, `--addresses` of `vain start`, as a (partial) chain section. */
async function chainFlags(values: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const { rpc, account, addresses, chain } = values as {
    rpc?: string
    account?: string
    addresses?: string
    chain?: string
  }
  const keyFile = values['key-file'] as string | undefined
  if (rpc === undefined && account === undefined && addresses === undefined && chain === undefined) {
    return keyFile === undefined ? undefined : { keyFile }
  }
  // a chain file gives the endpoint, the addresses and the first block; other flags override it
  const fromFile =
    chain === undefined
      ? undefined
      : await readChainFile(chain).then(
          (f) => f.chain,
          (err: Error) => usage(`--chain: ${err.message}`),
        )
  let parsedAddresses: unknown
  if (addresses === 'deploy') parsedAddresses = 'deploy'
  else if (addresses !== undefined) {
    const { readFile } = await import('node:fs/promises')
    try {
      const parsed = JSON.parse(await readFile(addresses, 'utf8'))
      parsedAddresses = parsed?.chain?.addresses ?? parsed?.addresses ?? parsed
    } catch (err) {
      usage(`--addresses: cannot read the suite's addresses from ${addresses}: ${(err as Error).message}`)
    }
  }
  return {
    rpcUrl: rpc ?? fromFile?.rpcUrl,
    account: account === undefined ? undefined : Number(account),
    keyFile,
    addresses: parsedAddresses ?? fromFile?.addresses,
    fromBlock: fromFile?.fromBlock,
  }
}

/** `--accept-jobs-from PEER|staked|any` (repeatable) → the config's `jobs` section. */
function acceptFlag(values: string[] | undefined): { accept: 'any' | 'staked' | string[] } | undefined {
  if (values === undefined) return undefined
  if (values.includes('any')) return { accept: 'any' }
  if (values.includes('staked')) {
    if (values.length > 1) throw new AppConfigError('--accept-jobs-from staked cannot be combined with peer ids')
    return { accept: 'staked' }
  }
  return { accept: values }
}

async function main(argv: string[]): Promise<void> {
  // `pnpm demo -- --nodes 8` passes the `--` through: drop it
  const [command, ...rest] = argv.filter((a) => a !== '--')
  if (
    command === undefined ||
    command === 'help' ||
    command === '--help' ||
    command === '-h' ||
    rest.includes('--help') ||
    rest.includes('-h')
  ) {
    // `vain <command> --help`: the usage text covers every command and its options
    process.stdout.write(HELP)
    return
  }
  if (command === 'chain') {
    process.exitCode = await runChainUp(rest)
    return
  }
  if ((CHAIN_COMMANDS as readonly string[]).includes(command)) {
    process.exitCode = await runChainCommand(command as (typeof CHAIN_COMMANDS)[number], rest)
    return
  }
  if (command === 'start') {
    let values: Record<string, unknown>
    try {
      values = parseArgs({
        args: rest,
        options: {
          config: { type: 'string', short: 'c' },
          'data-dir': { type: 'string', short: 'd' },
          listen: { type: 'string', short: 'l', multiple: true },
          bootstrap: { type: 'string', short: 'b', multiple: true },
          profile: { type: 'string' },
          roles: { type: 'string' },
          'api-port': { type: 'string' },
          'no-api': { type: 'boolean' },
          'mnist-shard': { type: 'string' },
          alpha: { type: 'string' },
          chain: { type: 'string' },
          rpc: { type: 'string' },
          account: { type: 'string' },
          'key-file': { type: 'string' },
          addresses: { type: 'string' },
          'accept-jobs-from': { type: 'string', multiple: true },
          json: { type: 'boolean' },
          verbose: { type: 'boolean', short: 'v' },
        },
        strict: true,
      }).values
    } catch (err) {
      usage((err as Error).message)
    }
    const shard = values['mnist-shard'] as string | undefined
    const shardMatch = shard === undefined ? undefined : /^(\d+)\/(\d+)$/.exec(shard)
    if (shard !== undefined && shardMatch === null) usage(`--mnist-shard must look like I/N (e.g. 0/5), got '${shard}'`)
    const num = (v: unknown, flag: string): number | undefined => {
      if (v === undefined) return undefined
      const n = Number(v)
      if (!Number.isFinite(n)) usage(`${flag} must be a number, got '${v}'`)
      return n
    }
    const flags = {
      dataDir: values['data-dir'],
      listen: values.listen,
      bootstrap: values.bootstrap,
      profile: values.profile,
      roles: typeof values.roles === 'string' ? values.roles.split(',').map((r) => r.trim()) : undefined,
      apiPort: values['no-api'] === true ? null : num(values['api-port'], '--api-port'),
      data:
        shardMatch != null
          ? {
              dataset: 'mnist',
              shard: Number(shardMatch[1]),
              shards: Number(shardMatch[2]),
              ...(values.alpha !== undefined ? { alpha: num(values.alpha, '--alpha') } : {}),
            }
          : undefined,
      logLevel: values.verbose === true ? 'debug' : undefined,
      json: values.json,
      chain: await chainFlags(values),
      jobs: acceptFlag(values['accept-jobs-from'] as string[] | undefined),
    }
    let config: Awaited<ReturnType<typeof loadAppConfig>>
    try {
      config = await loadAppConfig(values.config as string | undefined, flags)
    } catch (err) {
      if (err instanceof AppConfigError) {
        process.stderr.write(`vain: ${err.message}\n`)
        process.exit(2)
      }
      throw err
    }
    const log = createLogger({ level: config.logLevel, json: config.json, name: 'vain' })
    let running: Awaited<ReturnType<typeof startVainNode>>
    try {
      running = await startVainNode(config, log)
    } catch (err) {
      const e = err as Error
      log.error('could not start the node', { error: e.name, message: e.message })
      process.exit(e.name === 'ConfigError' || e.name === 'IdentityError' ? 2 : 1)
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
        process.exit(1)
      }
      stopping = true
      log.info(`${signal}: shutting down (send it again to exit at once)`)
      // a stop that hangs (a peer, a disk, a chain) must not keep the process: exit after a deadline
      setTimeout(() => {
        log.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting`)
        process.exit(1)
      }, SHUTDOWN_DEADLINE_MS).unref()
      void running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    }
    process.on('SIGINT', () => shutdown('SIGINT'))
    process.on('SIGTERM', () => shutdown('SIGTERM'))
    return
  }
  if (command === 'demo') {
    let values: Record<string, unknown>
    try {
      values = parseArgs({
        args: rest,
        options: {
          nodes: { type: 'string', short: 'n', default: '5' },
          rounds: { type: 'string', short: 'r' },
          target: { type: 'string', default: '0.9' },
          codec: { type: 'string' },
          'secure-aggregation': { type: 'boolean', default: false },
          regions: { type: 'string' },
          json: { type: 'boolean', default: false },
          keep: { type: 'boolean', default: false },
          chain: { type: 'boolean', default: true },
          proofs: { type: 'boolean', default: false },
          verbose: { type: 'boolean', short: 'v', default: false },
        },
        allowNegative: true,
        strict: true,
      }).values
    } catch (err) {
      usage((err as Error).message)
    }
    const nodes = Number(values.nodes)
    // proven updates take seconds per proof on a laptop's cores: a shorter run by default
    const rounds = Number(values.rounds ?? (values.proofs === true ? '4' : '20'))
    const target = Number(values.target)
    if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50) usage('--nodes must be an integer in 2..50')
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) usage('--rounds must be an integer in 1..1000')
    if (!(target > 0 && target <= 1)) usage('--target must be in (0, 1]')
    const secureAggregation = values['secure-aggregation'] === true
    const codec = String(values.codec ?? (secureAggregation ? 'dense' : 'top-k'))
    if (!['top-k', 'int8', 'fp16', 'fp32', 'dense'].includes(codec)) usage(`unknown --codec '${codec}'`)
    const regions = values.regions === undefined ? undefined : Number(values.regions)
    if (regions !== undefined && !(Number.isInteger(regions) && regions >= 2 && regions <= 64)) {
      usage('--regions must be an integer in 2..64')
    }
    if (regions !== undefined && secureAggregation) usage('--regions cannot be combined with --secure-aggregation yet')
    if (secureAggregation && codec !== 'dense') {
      usage(`--secure-aggregation sends dense masked vectors: it cannot use --codec ${codec}`)
    }
    const summary = await runDemo({
      nodes,
      rounds,
      target,
      codec,
      secureAggregation,
      ...(regions !== undefined ? { regions } : {}),
      json: values.json === true,
      keep: values.keep === true,
      verbose: values.verbose === true,
      chain: values.chain !== false,
      proofs: values.proofs === true,
    })
    process.exit(summary.ok ? 0 : 1)
  }
  if (command === 'job' || command === 'peers' || command === 'resources' || command === 'model') {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: command === 'peers' || command === 'resources' ? rest : rest.slice(1),
          options: {
            api: { type: 'string' },
            'data-dir': { type: 'string', short: 'd' },
            output: { type: 'string', short: 'o' },
          },
          allowPositionals: true,
          strict: true,
        })
      } catch (err) {
        usage((err as Error).message)
      }
    })()
    const base = values.api
    const token = await apiToken(values['data-dir'])
    const sub = rest[0]
    if (command === 'resources') {
      const status = (await api(base, '/status', { token })) as { resources?: ResourcesSnapshot }
      if (status.resources === undefined) usage('this node reports no resources (an older node?)')
      process.stdout.write(renderResources(status.resources))
      return
    }
    if (command === 'peers') {
      process.stdout.write(`${JSON.stringify(await api(base, '/peers', { token }), null, 2)}\n`)
      return
    }
    if (command === 'job' && sub === 'submit') {
      const file = positionals[0] ?? usage('job submit needs a FILE.json with the job spec')
      const { readFile } = await import('node:fs/promises')
      let body: string
      try {
        body = await readFile(file, 'utf8')
        JSON.parse(body)
      } catch (err) {
        usage(`cannot read a JSON job spec from ${file}: ${(err as Error).message}`)
      }
      if (token === undefined) {
        usage(`job submit needs the node's API token: --data-dir DIR (reads DIR/${API_TOKEN_FILE}) or VAIN_API_TOKEN`)
      }
      const r = await api(base, '/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        token,
      })
      process.stdout.write(`${JSON.stringify(r)}\n`)
      return
    }
    if (command === 'job' && sub === 'cancel') {
      const id = positionals[0] ?? usage('job cancel needs a JOB_ID')
      const r = await api(base, `/jobs/${encodeURIComponent(id)}`, { method: 'DELETE', token })
      process.stdout.write(`${JSON.stringify(r)}\n`)
      return
    }
    if (command === 'job' && sub === 'status') {
      const id = positionals[0] ?? usage('job status needs a JOB_ID')
      process.stdout.write(
        `${JSON.stringify(await api(base, `/jobs/${encodeURIComponent(id)}`, { token }), null, 2)}\n`,
      )
      return
    }
    if (command === 'model' && sub === 'export') {
      const address = positionals[0] ?? usage('model export needs a model CID')
      const out = values.output ?? usage('model export needs -o FILE.onnx')
      const bytes = (await api(base, `/models/${encodeURIComponent(address)}/onnx`, { token })) as Uint8Array
      await writeFile(out, bytes)
      process.stdout.write(`wrote ${bytes.byteLength} bytes to ${out}\n`)
      return
    }
    usage(`unknown ${command} subcommand '${sub ?? ''}'`)
  }
  usage(`unknown command '${command}'`)
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`vain: ${(err as Error)?.stack ?? err}\n`)
  process.exit(1)
})
