/**
 * Assemble one vAIn node: the @vain/net node, the round-protocol participant from @vain/fl over
 * the adapters the packages ship (`@vain/fl/vain-net`: gossip + streams; `@vain/fl/vain-memory`:
 * models as @vain/memory blobs addressed by CID and fetched from peers through blob sharing, job
 * state in @vain/memory's crash-safe state store — all in `<dataDir>/memory`), local training on
 * this node's own data, and the local REST API. One node at a time per data dir: it holds
 * `<dataDir>/LOCK` (see {@link lockDataDir}) while it runs.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { zkUpdateProofSystem } from '@vain/chain/zk'
import {
  acceptAnyJob,
  allowJobCreators,
  capacityWeightedEligibility,
  createLocalTrainer,
  createParticipant,
  type Dataset,
  decodeModel,
  JobNotAdmittedError,
  type JobPolicy,
  type JobSpec,
  jobAllowListEligibility,
  type Learner,
  type LocalTrainer,
  loadMnist,
  type Participant,
  type ParticipantInit,
  partitionDataset,
  runtimeFactory,
  subset,
} from '@vain/fl'
import { type MemoryModelStore, memoryJobStateStore, memoryModelStore } from '@vain/fl/vain-memory'
import { roundTransport } from '@vain/fl/vain-net'
import { createBlobSharing, createMemory, type Memory } from '@vain/memory'
import { vainNetBlobNetwork } from '@vain/memory/vain-net'
import { createNode, type VainNode } from '@vain/net'
import { privateKeyToAccount } from 'viem/accounts'
import { loadApiToken } from './api.js'
import { resolvePrivateKey } from './chain/connect.js'
import { ChainService } from './chain/service.js'
import { type AppConfig, AppConfigError } from './config.js'
import { ExternalUpdates, loadTrainerKeys, withExternalUpdates } from './http/external-updates.js'
import { createNodeFeed } from './http/feed-sources.js'
import { type ApiServer, startApiServer } from './http/server.js'
import { dataSources, localDataResolver } from './local-data.js'
import type { Logger } from './logger.js'
import { createNodeMetrics, type NodeMetrics, resourceFigures } from './metrics.js'
import { type NodeResources, NodeResourcesConfigSchema, startNodeResources } from './resources.js'

/** A running vAIn node. */
export interface RunningNode {
  node: VainNode
  participant: Participant
  /** Models: @vain/memory blobs, addressed by CID. */
  models: MemoryModelStore
  /** The node's @vain/memory store (`<dataDir>/memory`): models and job state. */
  memory: Memory
  api: ApiServer | undefined
  trainer: LocalTrainer
  localSamples: number
  /** Stake, eligibility and settlement on chain, when the config has a `chain` section. */
  chain: ChainService | undefined
  /** Host sampling, anomalies, the training scheduler, power profile and spare capacity (`@vain/resources`). */
  resources: NodeResources
  /** Prometheus registry (`GET /metrics`), history in `<dataDir>/metrics`, `/vain/metrics` for peers. */
  metrics: NodeMetrics
  stop(): Promise<void>
}

/** Samples of its own data a node evaluates each round's model on (vain_accuracy, vain_loss). */
const EVAL_SAMPLES = 1_000

/** How long a stopping node waits for chain calls in flight. */
const CHAIN_STOP_WAIT_MS = 15_000

/** Whether `p` settles (either way) within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** The non-IID MNIST shard of node `shard` of `shards` (Dirichlet label skew, seeded). */
export async function mnistShard(shard: number, shards: number, alpha: number, seed: number): Promise<Dataset> {
  // read without the process-wide cache: the node keeps only its shard, the rest is collected
  const { train } = await loadMnist({ cache: false })
  const parts = partitionDataset(train, { kind: 'dirichlet', clients: shards, alpha, seed, minSamples: 10 })
  return subset(train, parts[shard] as Int32Array)
}

/** A training seed from a node's peer id (nodes without an MNIST shard index). */
function peerSeed(peerId: string): number {
  return createHash('sha256').update(peerId).digest().readUInt32BE(0) % 1_000_000
}

/** Extension points of {@link startVainNode} (for forks and tests). */
export interface StartVainNodeOptions {
  /** Build the round-protocol participant (default `createParticipant`): wrap its transport, subclass it… */
  participant?: (init: ParticipantInit) => Participant
}

/** Another live process (or node in this process) runs on the data dir. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`the data dir ${dataDir} is in use by process ${pid} (its ${LOCK_FILE}): one node per data dir`)
  }
}

/** The lock file in a data dir: the pid of the process that runs a node on it. */
export const LOCK_FILE = 'LOCK'

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, it is someone else's
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Take `<dataDir>/LOCK` (created exclusively, holding this pid). A lock whose pid is alive throws
 * {@link DataDirLockedError}; one whose pid is dead (a crashed node) is taken over. Resolves with
 * the release.
 */
export async function lockDataDir(dataDir: string, log: Logger): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true })
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err
    }
    let content: string
    try {
      content = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // released meanwhile
      throw err
    }
    const pid = Number(content.trim())
    if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) throw new DataDirLockedError(dataDir, pid)
    log.warn('taking over a stale data dir lock (its process is gone)', { file, pid: content.trim() })
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }
  let released = false
  return async () => {
    if (released) return
    released = true
    await unlink(file).catch(() => {})
  }
}

export async function startVainNode(
  config: AppConfig,
  log: Logger,
  options: StartVainNodeOptions = {},
): Promise<RunningNode> {
  const release = await lockDataDir(config.dataDir, log)
  try {
    const running = await startLocked(config, log, options)
    return {
      ...running,
      stop: async () => {
        try {
          await running.stop()
        } finally {
          await release()
        }
      },
    }
  } catch (err) {
    await release()
    throw err
  }
}

async function startLocked(config: AppConfig, log: Logger, options: StartVainNodeOptions): Promise<RunningNode> {
  if (config.jobs?.accept === 'staked' && config.chain === undefined) {
    throw new AppConfigError('jobs.accept "staked" needs a chain: add a "chain" section (or --rpc), or list creators')
  }
  // a node with a chain: a new identity is secp256k1 (the NodeRegistry checks that key's signature
  // when binding the peer id), and the handshake descriptor carries the chain address it signs with
  const chainKey = config.chain === undefined ? undefined : resolvePrivateKey(config.chain)
  const metrics = createNodeMetrics({
    dataDir: config.dataDir,
    log,
    ...(config.alerts !== undefined ? { alerts: config.alerts } : {}),
  })
  // sample the host first: its CPU can set the network's limits; local training runs through the
  // resource scheduler (see ./resources.ts)
  const resources = await startNodeResources(config.resources ?? NodeResourcesConfigSchema.parse({}), log, {
    diskPath: config.dataDir,
  })
  // spare capacity, taken once: every peer must see the same figures for this node's lifetime
  const capacity = resources.capacityAdvert()
  const node = await createNode(
    {
      dataDir: config.dataDir,
      listen: config.listen,
      bootstrap: config.bootstrap,
      profile: config.profile,
      roles: resources.roles(config.roles),
      discovery: { pexIntervalMs: 5_000 },
      ...resources.netConfig(),
      ...(capacity !== undefined ? { capacity } : {}),
      ...(config.chain !== undefined ? { identity: { keyType: 'secp256k1' as const } } : {}),
      ...(chainKey !== undefined ? { chainAddress: privateKeyToAccount(chainKey).address } : {}),
    },
    { metrics: metrics.libp2pMetrics },
  )
  await node.start()
  resources.adaptNetwork(node)
  log.info('node started', { peerId: node.peerId.toString(), listen: node.multiaddrs.map(String) })
  node.addEventListener('peer:authenticated', (e) =>
    log.debug('peer authenticated', { peer: e.detail.peerId.toString(), roles: e.detail.descriptor.roles }),
  )
  node.addEventListener('peer:rejected', (e) =>
    log.warn('peer rejected', { peer: e.detail.peerId.toString(), reason: e.detail.reason }),
  )

  const transport = await roundTransport(node)
  // models as content-addressed @vain/memory blobs in <dataDir>/memory, addressed by CID and
  // fetched from peers through blob sharing; job state in the same store's state snapshots
  const memory = createMemory({ path: join(config.dataDir, 'memory') })
  await memory.start()
  const sharing = createBlobSharing({
    memory,
    network: vainNetBlobNetwork(node, { timeoutMs: 30_000 }),
    requestTimeoutMs: 30_000,
    discoveryTimeoutMs: 5_000,
    // models are pulled by whoever needs them; nobody pushes replicas to this node
    acceptReplicas: false,
    repairIntervalMs: 0,
  })
  await sharing.start()
  const models = memoryModelStore(memory, { sharing })
  const state = memoryJobStateStore(memory)
  const trainer = createLocalTrainer()
  const externalUpdates = new ExternalUpdates()
  let learner: Learner | undefined
  let localSamples = 0
  // the node's own data per job: an MNIST shard, and/or its files by dataset name (./local-data.ts)
  let dataOf: ((spec: JobSpec) => Dataset | undefined) | undefined
  const sources = dataSources(config.data)
  if ((sources.mnist !== undefined || Object.keys(sources.paths).length > 0) && config.roles.includes('trainer')) {
    const m = sources.mnist
    const shard = m === undefined ? undefined : await mnistShard(m.shard, m.shards, m.alpha, m.seed)
    localSamples = shard?.size ?? 0
    dataOf = localDataResolver({ ...(shard !== undefined ? { mnist: shard } : {}), paths: sources.paths, log })
    // an external trainer's signed update for a round (POST /api/model/update) is sent instead of training
    learner = withExternalUpdates(
      resources.learner(trainer, dataOf, m !== undefined ? m.shard + 1 : peerSeed(node.peerId.toString())),
      externalUpdates,
      async (a) => decodeModel(await models.get(a)),
    )
    if (m !== undefined)
      log.info('local data loaded', { dataset: 'mnist', shard: `${m.shard}/${m.shards}`, samples: localSamples })
    for (const [name, path] of Object.entries(sources.paths))
      log.info('local data configured (read with the schema of the first job that uses it)', { dataset: name, path })
  }
  const roles = { trainer: learner !== undefined, aggregator: config.roles.includes('aggregator') }
  // with a chain: "staked and tier >= the role's tier", read from chain; else the job's allow-lists
  const chain = config.chain === undefined ? undefined : new ChainService({ config: config.chain, node, log, roles })
  const accept = config.jobs?.accept ?? (chain !== undefined ? 'staked' : [])
  if (config.jobs === undefined && chain === undefined) {
    log.warn('this node takes on only its own jobs: set jobs.accept (or --accept-jobs-from PEER|any) to take on others')
  }
  const proofs = await zkUpdateProofSystem({ lazy: true })
  // with resources.weighCapacity, committee candidates are weighted by the spare capacity their
  // signed descriptors advertise (every member must run with the same setting)
  const weighCapacity = (policy: ParticipantInit['policy']): ParticipantInit['policy'] => {
    if (config.resources?.weighCapacity !== true) return policy
    log.info('committee selection weighs the spare capacity peers advertise')
    return capacityWeightedEligibility(policy, {
      scoreOf: (peer) => {
        if (peer === node.peerId.toString()) return capacity?.score
        try {
          return node.descriptor(peerIdFromString(peer))?.capacity?.score
        } catch {
          return undefined
        }
      },
    })
  }
  const participant = (options.participant ?? createParticipant)({
    jobPolicy: namesCommitteeWithoutChain(
      chain,
      accept === 'any'
        ? acceptAnyJob()
        : accept === 'staked'
          ? (chain as ChainService).settlement.jobPolicy
          : allowJobCreators(accept),
    ),
    jobCaps: {
      ...(config.jobs?.maxActive !== undefined ? { maxActiveJobs: config.jobs.maxActive } : {}),
      ...(config.jobs?.maxPerCreator !== undefined ? { maxJobsPerCreator: config.jobs.maxPerCreator } : {}),
      ...(config.jobs?.maxFailedAttempts !== undefined ? { maxFailedAttempts: config.jobs.maxFailedAttempts } : {}),
    },
    transport,
    models,
    state,
    policy: weighCapacity(chain?.policy ?? jobAllowListEligibility()),
    ...(learner !== undefined ? { learner } : {}),
    runtime: runtimeFactory(),
    roles,
    // proven updates (jobs with `proofs`): Groth16 proofs, loaded on the first proven job
    proofs,
  })
  // the live feed's sources (GET /api/feed): events, per-round figures, /vain/feed for peers
  const feed = createNodeFeed({
    node,
    participant,
    // the alert rules' notices (their defaults include @vain/resources' anomalies), host pressure
    alerts: [metrics.alerts, resources.scheduler],
    ...(chain !== undefined ? { chain } : {}),
  })
  participant.addEventListener('update:proven', (e) =>
    log.info('update proven', {
      job: e.detail.jobId.slice(0, 12),
      round: e.detail.round,
      proofs: e.detail.proofs,
      ms: Math.round(e.detail.ms),
    }),
  )
  participant.addEventListener('job:joined', (e) => {
    // a proven job: load the prover now, not in the first round's deadline
    if (e.detail.spec.proofs !== undefined)
      proofs.warm().catch((err: unknown) => log.warn('cannot load the update prover', { error: String(err) }))
  })
  participant.addEventListener('job:joined', (e) =>
    log.info('joined job', { job: e.detail.jobId.slice(0, 12), name: e.detail.spec.name }),
  )
  participant.addEventListener('round:started', (e) =>
    log.debug('round started', {
      job: e.detail.jobId.slice(0, 12),
      round: e.detail.round,
      committee: e.detail.committee.map((c) => c.slice(-6)),
    }),
  )
  participant.addEventListener('update:sent', (e) =>
    log.debug('update sent', { round: e.detail.round, bytes: e.detail.bytes, failed: e.detail.failed.length }),
  )
  participant.addEventListener('round:completed', (e) =>
    log.info('round completed', {
      job: e.detail.jobId.slice(0, 12),
      round: e.detail.round,
      model: e.detail.model.slice(0, 12),
      contributions: e.detail.contributions.length,
    }),
  )
  // each completed round's model, evaluated on (up to EVAL_SAMPLES rows of) this node's own data
  // for the job: vain_accuracy, vain_loss
  const jobSpecs = new Map<string, JobSpec>()
  participant.addEventListener('job:joined', (e) => {
    jobSpecs.set(e.detail.jobId, e.detail.spec)
    if (jobSpecs.size > 1000) jobSpecs.delete(jobSpecs.keys().next().value as string)
  })
  participant.addEventListener('round:completed', (e) => {
    const { jobId, model, agreeing, round } = e.detail
    const spec = jobSpecs.get(jobId)
    const own = spec === undefined ? undefined : dataOf?.(spec)
    if (own === undefined) return
    const data = subset(
      own,
      Array.from({ length: Math.min(EVAL_SAMPLES, own.size) }, (_, i) => i),
    )
    void (async () => {
      const m = decodeModel(await models.get(model, { providers: agreeing }))
      const r = await trainer.evaluate(m, data)
      metrics.metrics.evaluated({ jobId, accuracy: r.accuracy, loss: r.loss })
      feed.evaluated(jobId, round, r)
    })().catch((err: unknown) => log.debug('cannot evaluate the round model', { error: String(err) }))
  })
  participant.addEventListener('rejected', (e) =>
    log.warn(`rejected ${e.detail.kind}`, {
      from: e.detail.from.slice(-8),
      error: e.detail.errorName,
      reason: e.detail.reason,
    }),
  )
  participant.addEventListener('committee:disagreement', (e) =>
    log.warn('committee member disagreed with the majority', { member: e.detail.member, round: e.detail.round }),
  )
  participant.addEventListener('contributors:agreed', (e) => {
    const { round, held, agreed, fetched } = e.detail
    // an update left out (held by a minority of members) or passed on is worth a line
    const level = agreed !== held || fetched > 0 ? 'info' : 'debug'
    log[level]('committee agreed on the contributors', { round, held, agreed, fetched })
  })
  participant.addEventListener('job:ended', (e) =>
    log.warn(`job ${e.detail.ended}`, { job: e.detail.jobId.slice(0, 12), reason: e.detail.reason }),
  )
  participant.addEventListener('round:failed', (e) =>
    log.warn('round failed', { round: e.detail.round, reason: e.detail.reason }),
  )
  // a job admitted for its staked creator whose rounds go unfunded is cancelled here
  if (accept === 'staked') {
    chain?.on('job:unfunded', ({ jobId }) => {
      void participant.cancelJob(jobId).catch((err: unknown) => log.warn('cannot cancel an unfunded job', { err }))
    })
  }
  // the chain side follows the participant's events: attach it before jobs resume
  await chain?.start(participant)
  await participant.start()
  await metrics.attach({
    node,
    participant,
    // host figures from @vain/resources' latest sample
    resources: () => resourceFigures(resources.snapshot().sample),
    anomalies: resources.anomalySource(),
    ...(chain !== undefined ? { chain: () => chain.status() } : {}),
  })
  await feed.serve({
    node,
    participant,
    resources: { limits: () => resources.limits, sample: () => resources.snapshot() },
    ...(chain !== undefined ? { chain: () => chain.status() } : {}),
    feed,
  })
  const api =
    config.apiPort === null
      ? undefined
      : await startApiServer({
          node,
          participant,
          models,
          port: config.apiPort,
          ...(config.apiHost !== undefined ? { host: config.apiHost } : {}),
          ...(config.apiAllowedHosts !== undefined ? { allowedHosts: config.apiAllowedHosts } : {}),
          token: await loadApiToken(config.dataDir),
          log,
          ...(chain !== undefined ? { chain: () => chain.status(), staking: chain } : {}),
          resources: {
            limits: () => resources.limits,
            setLimits: (input: unknown) => resources.setLimits(input),
            sample: () => resources.snapshot(),
          },
          // a node that trains sends external trainers' updates in its place (without data it does not train)
          ...(learner !== undefined
            ? { externalUpdates: { queue: externalUpdates, trainerKeys: () => loadTrainerKeys(config.dataDir) } }
            : {}),
          metrics: { text: () => metrics.text(), cluster: () => metrics.cluster() },
          metricsHistory: metrics.store,
          feed,
        })
  if (api !== undefined) log.info('REST API listening', { url: api.url })
  let stopped = false
  return {
    node,
    participant,
    models,
    memory,
    api,
    trainer,
    localSamples,
    chain,
    resources,
    metrics,
    stop: async () => {
      if (stopped) return
      stopped = true
      await api?.close()
      await feed.stop()
      await metrics.stop()
      await participant.stop()
      // a chain call in flight (a receipt, a busy RPC) must not hold the shutdown: wait a while, then go on
      if (chain !== undefined && !(await settlesWithin(chain.stop(), CHAIN_STOP_WAIT_MS)))
        log.warn(`chain tasks still in flight after ${CHAIN_STOP_WAIT_MS / 1000} s; stopping without them`)
      await transport.stop()
      await trainer.close()
      await resources.stop()
      await proofs.close()
      await sharing.stop()
      await memory.stop()
      await node.stop()
      log.info('node stopped (job state persisted)')
    },
  }
}

/**
 * Without a chain a job's committee comes only from its allow-list (`participants.aggregators`): a
 * job naming none would never have a committee, and every round would fail at its deadline ("no
 * committee majority"). Such a job is not taken on, with a message saying why.
 */
export function namesCommitteeWithoutChain(chain: ChainService | undefined, policy: JobPolicy): JobPolicy {
  if (chain !== undefined) return policy
  return {
    admit: (job) => {
      if ((job.spec.participants?.aggregators?.length ?? 0) === 0) {
        throw new JobNotAdmittedError(
          `job ${job.jobId.slice(0, 12)} names no committee (participants.aggregators) and this node has no chain to draw one from`,
        )
      }
      return policy.admit(job)
    },
  }
}
