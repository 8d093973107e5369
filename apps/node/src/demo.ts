/**
 * `vain demo`: a local vAIn network on 127.0.0.1. N nodes run as separate processes
 * (`vain start`), each with its own non-IID shard of MNIST (the data never leaves its process);
 * this process joins as an observer, submits a job, and shows the rounds as the nodes train and
 * aggregate with no server: accuracy on the 2,000 held-out digits, bytes uploaded, time.
 *
 * With `chain` (the CLI's default): a local Hardhat chain runs in this process, the vAIn suite is
 * deployed on it, every node is funded and stakes enough for tier 3 (so it may aggregate) and
 * registers its peer id; committees are drawn from chain eligibility, the observer (the job's
 * creator) opens and funds a chain round per round, the committee settles it, and trainers claim
 * their rewards by Merkle proof — a line per round shows the rewards paid. Once the target is
 * reached, the round under way (its chain round is funded already) completes and the observer
 * leaves the job, so it funds no more rounds; the demo then waits until every chain round it
 * opened is settled and claimed, or refunded after its deadline (an attempt that failed), and its
 * summary counts rounds trained, settled and refunded, and VAIN paid and refunded.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { connectVain, deployVain, type LocalChain, startLocalChain, type VainClient } from '@vain/chain'
import { createLocalTrainer, createModel, decodeModel, encodeModel, type JobSpecInput, loadMnist, mlp } from '@vain/fl'
import { ROUND_TOPICS } from '@vain/fl/vain-net'
import { type Address, type Hex, parseEther } from 'viem'
import { type AnonymousVoteSummary, runAnonymousVote } from './anonymous-vote.js'
import { DEV_DEPLOY_PARAMS, formatVain, shortAddress } from './chain/connect.js'
import { ChainConfigSchema } from './config.js'
import { createLogger } from './logger.js'
import { startVainNode } from './runtime.js'
import { selfCommand } from './self.js'

export interface DemoOptions {
  nodes: number
  rounds: number
  target: number
  codec: string
  json: boolean
  keep: boolean
  verbose: boolean
  /**
   * Secure aggregation: committee members only ever see the sum of the updates (dense
   * fixed-point vectors, so `codec` must be `dense`).
   */
  secureAggregation?: boolean
  /**
   * Two-level aggregation: split the trainers into this many regions, each with its own
   * committee, feeding a root committee (off when omitted).
   */
  regions?: number
  /**
   * Proven updates: every update carries Groth16 proofs that its norm is at most the job's bound
   * (one proof per 256 int8 values; the codec becomes top-k 512 so an update needs 2 proofs),
   * and members refuse updates whose proofs fail.
   */
  proofs?: boolean
  /** Print nothing (benchmarks read the returned summary). */
  quiet?: boolean
  /** The job's round deadline in ms (default 20 000): many nodes sharing few cores need longer. */
  roundDeadlineMs?: number
  /** Extra Node.js flags for every node process, e.g. `--max-old-space-size=160` (benchmarks). */
  nodeFlags?: string[]
  /** Node processes started at once (default 6). */
  startBatch?: number
  /** Write each node's log to `<logDir>/n<i>.log` (benchmarks, diagnosis). */
  logDir?: string
  /** Told when every node process is up (`nodes`), the network is ready (`mesh`), the job is out (`job`). */
  onPhase?: (phase: 'nodes' | 'mesh' | 'job', detail: { authenticated: number; topicPeers: number }) => void
  /** Called once every node runs, with each node's peer id and REST API URL (benchmarks scrape them). */
  onNodes?: (nodes: Array<{ peerId: string; api: string | null }>) => void
  /**
   * Run a local chain: stake, tiers, settlement and rewards (the CLI's default; `--no-chain`
   * turns it off). Off when omitted.
   */
  chain?: boolean
}

/** What the chain did during a demo. */
export interface DemoChainSummary {
  rpcUrl: string
  /** Chain rounds the job's creator opened and funded: one per attempt of each round trained. */
  openedRounds: number
  /** Chain rounds settled by their committees. */
  settledRounds: number
  /** Chain rounds cancelled after their deadline, unsettled, their pool refunded to the creator. */
  refundedRounds: number
  /** Chain rounds neither settled nor refunded when the demo stopped (0 unless it timed out). */
  openRounds: number
  /** Pools of the rounds opened, e.g. `250 VAIN`. */
  rewardsFunded: string
  /** Rewards claimed, e.g. `250 VAIN`. */
  rewardsPaid: string
  /** Back to the creator: pools of refunded rounds, and what settled rounds did not pay out (rounding). */
  rewardsRefunded: string
  /** Rewards of settled rounds not claimed (yet) when the demo stopped. */
  rewardsUnclaimed: string
  /** Nodes paid at least one reward. */
  paidNodes: number
  nodes: Array<{
    peerId: string
    address: string
    staked: string
    tier: number
    reputation: string
    earned: string
    /** Rounds this node trained in and committees it sat on (what its reputation comes from). */
    roundsTrained?: number
    committeeRounds?: number
  }>
}

export interface DemoSummary {
  ok: boolean
  nodes: number
  rounds: number
  accuracy: number
  centralizedAccuracy: number
  uploadedBytes: number
  denseBytesPerRound: number
  seconds: number
  curve: Array<{ round: number; accuracy: number; uploadedBytes: number; seconds: number }>
  /** Seconds from the job announcement to the first round, and the mean per round after it. */
  secondsToFirstRound: number
  meanSecondsPerRound: number
  /** Why the demo stopped: the target accuracy was reached, every round ran, or time ran out. */
  stopReason: 'target' | 'rounds' | 'timeout'
  /** The round (1-based) whose model first reached the target accuracy, when one did. */
  targetReachedAtRound?: number
  /** The dense float32 model's size in bytes (4 bytes a parameter): what an uncompressed update would be. */
  denseModelBytes: number
  /** Bytes one node uploaded per round it trained in, on average (its update, to every committee member). */
  bytesPerNodePerRound: number
  /** How many times smaller an update was than the dense model, on average. */
  compression: number
  /** Per node: rounds it trained in (its update was in the round's result) and committees it sat on. */
  participation: Array<{ peerId: string; roundsTrained: number; committeeRounds: number }>
  /** Present when the demo ran with a chain. */
  chain?: DemoChainSummary
  /** With `proofs`: accepted contributions, how many carried verified proofs (all, or the round refused them), proofs per update. */
  proofs?: { contributions: number; proven: number; perUpdate: number }
  /** With `proofs` and a chain: the anonymous governance vote after training. */
  anonymousVote?: AnonymousVoteSummary
}

interface Child {
  proc: ChildProcess
  peerId: string
  multiaddrs: string[]
  api: string | null
}

/** The job creator's stake: tier 1, what the default deployment asks of creators. */
const CREATOR_STAKE = parseEther('100')
/** Each node's stake: enough for tier 3 (aggregators) with the development parameters. */
const NODE_STAKE = parseEther('10000')
const NODE_FUNDS = parseEther('12000')
const REWARD_PER_ROUND = '50'

function startChild(
  args: string[],
  verbose: boolean,
  extra: { nodeFlags?: string[] | undefined; logFile?: string | undefined } = {},
): Promise<Child> {
  const log = extra.logFile === undefined ? undefined : openSync(extra.logFile, 'w')
  const proc = spawn(process.execPath, [...(extra.nodeFlags ?? []), ...selfCommand(), 'start', ...args], {
    stdio: ['ignore', 'pipe', log ?? (verbose ? 'inherit' : 'ignore')],
  })
  if (log !== undefined) closeSync(log)
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
    const timer = setTimeout(() => reject(new Error('a node did not start within 180 s')), 180_000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      try {
        const ready = JSON.parse(line) as { peerId: string; multiaddrs: string[]; api: string | null }
        resolve({ proc, ...ready })
      } catch {
        reject(new Error(`unexpected output from a node: ${line}`))
      }
    })
    proc.once('exit', (code) => reject(new Error(`a node exited during start (code ${code})`)))
  })
}

const kb = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} KB`)

/** Values a proven update sends (top-k int8): 2 proofs of 256 values each. */
const PROVEN_TOP_K = 512
/** The L2 norm bound of a proven update (trainers clip to it; members check the proofs against it). */
const PROVEN_NORM_BOUND = 5

function codecSpec(name: string): JobSpecInput['codec'] {
  if (name === 'top-k') return { name: 'top-k', params: { fraction: 0.05, values: 'int8', errorFeedback: true } }
  return { name, params: {} }
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const started = performance.now()
  const out = (line: string): void => {
    // with --json, stdout carries only the summary: progress goes to stderr
    if (opts.quiet !== true) (opts.json ? process.stderr : process.stdout).write(`${line}\n`)
  }
  const root = await mkdtemp(join(tmpdir(), 'vain-demo-'))
  const children: Child[] = []
  const log = createLogger({ level: opts.verbose ? 'debug' : 'warn', json: false, name: 'observer' })
  let observer: Awaited<ReturnType<typeof startVainNode>> | undefined
  let chain: LocalChain | undefined
  const cleanup = async (): Promise<void> => {
    await observer?.stop().catch(() => {})
    for (const c of children) c.proc.kill('SIGTERM')
    await Promise.all(
      children.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once('exit', r)))),
    )
    await chain?.stop().catch(() => {})
    if (!opts.keep) await rm(root, { recursive: true, force: true })
  }
  process.once('SIGINT', () => {
    out('\ninterrupted: stopping the nodes')
    void cleanup().then(() => process.exit(130))
  })
  try {
    out(
      `vAIn demo — ${opts.nodes} nodes on 127.0.0.1 (separate processes), MNIST split non-IID (Dirichlet α=0.5) across nodes${opts.chain === true ? ', local chain' : ''}`,
    )
    // 0. the chain: deploy the suite, fund every node and stake enough for tier 3
    let chainSetup: ChainSetup | undefined
    if (opts.chain === true) {
      chainSetup = await setUpChain(opts.nodes, root, out, (c) => {
        chain = c
      })
    }
    const chainArgs = (i: number) => (chainSetup === undefined ? [] : ['--config', chainSetup.configFor(i)])
    // 1. the network: node 0 first, the others bootstrap from up to 3 nodes already up (not all
    // from node 0: with 50+ nodes a single bootstrap node is swamped) and find each other (PEX, DHT)
    // which jobs the nodes take on: with the chain, those of staked, registered creators who may
    // fund rounds (the default; the observer is one); without it, any creator's (an explicit opt-in)
    const accept = chainSetup === undefined ? ['--accept-jobs-from', 'any'] : []
    const common = ['--profile', 'loopback', '--json', ...accept, ...(opts.verbose ? ['-v'] : [])]
    const shardArgs = (i: number) => ['--mnist-shard', `${i}/${opts.nodes}`]
    const extra = (i: number) => ({
      nodeFlags: opts.nodeFlags,
      logFile: opts.logDir === undefined ? undefined : join(opts.logDir, `n${i}.log`),
    })
    const bootstrapFor = (i: number): string[] => {
      const up = children.length
      const picks = new Set([i % up, (7 * i + 3) % up, (13 * i + 1) % up])
      return [...picks].flatMap((p) => ['--bootstrap', children[p]?.multiaddrs[0] as string])
    }
    const first = await startChild(
      ['--data-dir', join(root, 'n0'), ...shardArgs(0), ...chainArgs(0), ...common],
      opts.verbose,
      extra(0),
    )
    children.push(first)
    if (first.api !== null) out(`dashboard ${first.api}/ (node 0: peers, rounds, resources, stake, live)`)
    // start the others a few at a time: each process loads onnxruntime and MNIST
    const batchSize = opts.startBatch ?? 6
    for (let k = 1; k < opts.nodes; k += batchSize) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(batchSize, opts.nodes - k) }, (_, j) =>
          startChild(
            [
              '--data-dir',
              join(root, `n${k + j}`),
              ...shardArgs(k + j),
              ...chainArgs(k + j),
              ...bootstrapFor(k + j),
              ...common,
            ],
            opts.verbose,
            extra(k + j),
          ),
        ),
      )
      children.push(...batch)
    }
    observer = await startVainNode(
      {
        dataDir: join(root, 'observer'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [
          ...new Set(
            [0, Math.floor(children.length / 2), children.length - 1].map((i) => children[i]?.multiaddrs[0] as string),
          ),
        ],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: opts.verbose ? 'debug' : 'warn',
        json: false,
        // the job's creator: it opens and funds a chain round per round (the deployer holds the
        // OPENER role, is staked for the creators' tier and registers its peer id, so nodes admit its jobs)
        ...(chainSetup !== undefined
          ? {
              chain: ChainConfigSchema.parse({
                rpcUrl: chainSetup.chain.rpcUrl,
                account: 0,
                addresses: chainSetup.admin.addresses,
                rewardPerRound: REWARD_PER_ROUND,
                pollMs: 250,
              }),
            }
          : {}),
      },
      log,
    )
    const obs = observer
    const ready = () => ({
      authenticated: obs.node.authenticatedPeers().length,
      topicPeers: obs.node.topicPeers(ROUND_TOPICS.jobs).length,
    })
    opts.onPhase?.('nodes', ready())
    opts.onNodes?.(children.map((c) => ({ peerId: c.peerId, api: c.api })))
    const ids = children.map((c) => c.peerId)
    const short = (id: string) => `…${id.slice(-4)}`
    // 2. wait until the observer sees every node and the gossip mesh can carry the job
    const meshDeadline = Date.now() + 60_000 + 2_000 * opts.nodes
    while (Date.now() < meshDeadline) {
      const authed = new Set(obs.node.authenticatedPeers().map(String))
      if (ids.every((id) => authed.has(id)) && obs.node.topicPeers(ROUND_TOPICS.jobs).length >= Math.min(3, opts.nodes))
        break
      // every node fetches the job's initial model from the observer: connect to each (peer
      // exchange stops dialling at its target, 12 peers on loopback), a few at a time
      const missing = children.filter((c) => !authed.has(c.peerId)).slice(0, 8)
      await Promise.allSettled(
        missing.map((c) => obs.node.connect(c.multiaddrs[0] as string, { signal: AbortSignal.timeout(15_000) })),
      )
      await new Promise((r) => setTimeout(r, 250))
    }
    await new Promise((r) => setTimeout(r, 1500)) // a gossipsub heartbeat or two
    opts.onPhase?.('mesh', ready())
    out(`peers ${obs.node.authenticatedPeers().length}/${opts.nodes} · ${ids.map(short).join(' ')}`)
    // every node registers its peer id on chain at start: committees are drawn from those bindings
    const nodeAddresses =
      chainSetup === undefined ? new Map<string, Address>() : await waitRegistered(chainSetup.admin, ids, 60_000)
    if (chainSetup !== undefined) {
      // nodes take on a job only from a registered creator: the observer's binding first
      const creator = await waitRegistered(chainSetup.admin, [obs.node.peerId.toString()], 60_000)
      out(
        `registered on chain: ${nodeAddresses.size}/${ids.length} peer ids ↔ addresses · committees drawn from staked tier-3 nodes, weighted by stake · job creator ${creator.size === 1 ? 'registered' : 'NOT registered'}`,
      )
    }

    // 3. the centralized baseline (the ceiling), trained here while nothing else runs
    const { train, test } = await loadMnist()
    const trainer = createLocalTrainer()
    const arch = mlp(784, [64], 10)
    const initial = createModel(arch, { seed: 1 })
    const central = await trainer.train(initial, train, { epochs: 3, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 })
    const centralizedAccuracy = (await trainer.evaluate(central.model, test)).accuracy

    // 4. the job: signed by the observer, carried by gossip, run by the nodes with no server
    const initialModel = await obs.models.put(encodeModel(initial))
    const dense = 4 * initial.params.length
    const curve: DemoSummary['curve'] = []
    let uploadedBytes = 0
    let lastRoundAt = 0
    let jobAt = 0
    let best = 0
    let done = false
    // the target (or the last round) was reached: the round under way completes, none after it starts
    let reached = false
    let left = false
    let jobId: string | undefined
    let lastStarted = -1
    const leaveJob = (): void => {
      if (left || jobId === undefined) return
      left = true
      // aborts the job's loop here at once (before the next round starts): the observer, the job's
      // creator, funds no more chain rounds; the nodes stop with the demo
      void obs.participant.cancelJob(jobId).catch(() => {})
    }
    obs.participant.addEventListener('round:started', (e) => {
      lastStarted = Math.max(lastStarted, e.detail.round)
    })
    const rewards = chainSetup === undefined ? undefined : followRewards(obs, out)
    let provenContributions = 0
    let allContributions = 0
    /** Per peer id: rounds its update was in, committees it sat on (rounds in the curve only). */
    const trainedIn = new Map<string, number>()
    const committeeSeats = new Map<string, number>()
    let targetRound: number | undefined
    const finished = new Promise<void>((resolve) => {
      obs.participant.addEventListener('round:completed', (e) => {
        if (reached) leaveJob()
        void (async () => {
          if (done) return
          const { round, model, contributions, committee } = e.detail
          const bytes = contributions.reduce((a, c) => a + c.payloadBytes, 0) * committee.length
          uploadedBytes += bytes
          provenContributions += contributions.filter((c) => c.proofDigest !== undefined).length
          allContributions += contributions.length
          for (const c of contributions) trainedIn.set(c.trainer, (trainedIn.get(c.trainer) ?? 0) + 1)
          for (const m of committee) committeeSeats.set(m, (committeeSeats.get(m) ?? 0) + 1)
          const m = decodeModel(await obs.models.get(model, { providers: e.detail.agreeing }))
          const { accuracy } = await trainer.evaluate(m, test)
          best = Math.max(best, accuracy)
          const now = performance.now()
          curve.push({
            round: round + 1,
            accuracy,
            uploadedBytes: bytes,
            seconds: (now - (lastRoundAt || jobAt)) / 1000,
          })
          lastRoundAt = now
          const per = contributions.length === 0 ? 0 : bytes / committee.length / contributions.length
          const ratio = per > 0 ? dense / per : 0
          const firstTarget = accuracy >= opts.target && targetRound === undefined
          const width = 20
          const filled = Math.round((width * (round + 1)) / opts.rounds)
          out(
            `round ${String(round + 1).padStart(2)}/${opts.rounds}  ${'█'.repeat(filled)}${'░'.repeat(width - filled)}  accuracy ${(100 * accuracy).toFixed(1)} % (centralized ${(100 * centralizedAccuracy).toFixed(1)} %)  ↑ ${kb(bytes)} (${contributions.length} updates, each ${ratio.toFixed(0)}× smaller than the dense model)  committee ${committee.map(short).join(' ')}`,
          )
          if (firstTarget) {
            targetRound = round + 1
            out(
              `         ✓ target reached: ${(100 * accuracy).toFixed(1)} % ≥ ${(100 * opts.target).toFixed(1)} % after round ${round + 1} — a round already under way completes, then the demo stops (no new round is started${chainSetup !== undefined ? ' or funded on chain' : ''})`,
            )
          } else if (round + 1 >= opts.rounds && targetRound === undefined && !reached) {
            out(
              `         ■ all ${opts.rounds} rounds done (--rounds ${opts.rounds}); the target ${(100 * opts.target).toFixed(1)} % was not reached (best ${(100 * best).toFixed(1)} %): stopping`,
            )
          }
          if (accuracy >= opts.target || round + 1 >= opts.rounds) reached = true
          // done once no round is under way here (the one that started before the target was known completed)
          if (reached && round >= lastStarted && !done) {
            done = true
            leaveJob()
            resolve()
          }
        })()
      })
    })
    jobAt = performance.now()
    // proving takes seconds per proof on a few shared cores: members close as soon as every update is in
    const deadlineMs = opts.roundDeadlineMs ?? (opts.proofs === true ? 120_000 : 20_000)
    const job = await obs.participant.submitJob({
      name: 'mnist-demo',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      ...(opts.proofs === true
        ? {
            codec: { name: 'top-k', params: { k: PROVEN_TOP_K, values: 'int8', errorFeedback: true } },
            proofs: { normBound: PROVEN_NORM_BOUND },
          }
        : { codec: codecSpec(opts.codec) }),
      secureAggregation: opts.secureAggregation === true,
      ...(opts.regions !== undefined ? { hierarchy: { regions: opts.regions } } : {}),
      rounds: opts.rounds,
      roundDeadlineMs: deadlineMs,
      minUpdates: Math.max(1, Math.ceil(opts.nodes / 2)),
      committeeSize: Math.min(3, opts.nodes),
      local: { epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9 },
      maxUpdateBytes: 16 * 1024 * 1024,
      participants: { aggregators: ids, trainers: ids },
    })
    jobId = job.jobId
    out(
      `job ${job.jobId.slice(0, 12)} announced: MLP 784-64-10, FedAvg, ${opts.proofs === true ? `proven updates (top-k ${PROVEN_TOP_K} int8, ${PROVEN_TOP_K / 256} Groth16 proofs each, norm ≤ ${PROVEN_NORM_BOUND}; members refuse a bad proof)` : `codec ${opts.codec}`}${opts.secureAggregation === true ? ', secure aggregation (members see only the sum)' : ''}${opts.regions !== undefined ? `, ${opts.regions} regional committees feeding a root committee` : ''}, committee of ${Math.min(3, opts.nodes)} per round${chainSetup !== undefined ? `, ${REWARD_PER_ROUND} VAIN of rewards a round settled on chain` : ''}`,
    )
    opts.onPhase?.('job', ready())
    // a round may need a second attempt (a new committee) before it completes; proven rounds' first
    // attempt also waits for every trainer's proofs, which a busy machine makes slow
    const perRoundMs = Math.max(30_000, (opts.proofs === true ? 3 : 1.5) * deadlineMs)
    const timeout = new Promise<'timeout'>((r) =>
      setTimeout(() => r('timeout'), opts.rounds * perRoundMs + 30_000).unref(),
    )
    const outcome = await Promise.race([finished, timeout])
    // the last rounds' settlements and claims trail the rounds by a moment; a chain round left
    // unsettled (a failed attempt) is refunded by the observer's node once past its deadline
    let chainSummary: DemoChainSummary | undefined
    if (chainSetup !== undefined && rewards !== undefined) {
      leaveJob()
      await rewards.closed(20_000)
      rewards.mute()
      chainSummary = await rewards.summary(chainSetup.chain.rpcUrl, chainSetup.admin, ids, nodeAddresses)
      for (const n of chainSummary.nodes) {
        n.roundsTrained = trainedIn.get(n.peerId) ?? 0
        n.committeeRounds = committeeSeats.get(n.peerId) ?? 0
      }
    }
    // with proofs: an anonymous governance vote once training is over (anonymous-vote.ts)
    let anonymousVote: AnonymousVoteSummary | undefined
    if (opts.proofs === true && chainSetup !== undefined) {
      const setup = chainSetup
      const nodeKeys = Array.from(
        { length: opts.nodes },
        (_, i) => (setup.chain.accounts[i + 1] as { privateKey: Hex }).privateKey,
      )
      anonymousVote = await runAnonymousVote({ relayer: setup.admin, rpcUrl: setup.chain.rpcUrl, nodeKeys, out }).catch(
        (err: unknown) => {
          out(`anonymous vote failed: ${(err as Error).message}`)
          return undefined
        },
      )
    }
    const seconds = (performance.now() - started) / 1000
    const last = curve.at(-1)
    const summary: DemoSummary = {
      ok:
        outcome !== 'timeout' &&
        last !== undefined &&
        (opts.proofs !== true || chainSetup === undefined || anonymousVote !== undefined),
      nodes: opts.nodes,
      rounds: curve.length,
      accuracy: last?.accuracy ?? 0,
      centralizedAccuracy,
      uploadedBytes,
      denseBytesPerRound: dense * opts.nodes * Math.min(3, opts.nodes),
      stopReason: outcome === 'timeout' ? 'timeout' : targetRound !== undefined ? 'target' : 'rounds',
      ...(targetRound !== undefined ? { targetReachedAtRound: targetRound } : {}),
      denseModelBytes: dense,
      bytesPerNodePerRound: allContributions === 0 ? 0 : uploadedBytes / allContributions,
      compression: uploadedBytes === 0 ? 0 : dense / (uploadedBytes / allContributions / Math.min(3, opts.nodes)),
      participation: ids.map((peerId) => ({
        peerId,
        roundsTrained: trainedIn.get(peerId) ?? 0,
        committeeRounds: committeeSeats.get(peerId) ?? 0,
      })),
      seconds,
      curve,
      secondsToFirstRound: curve[0]?.seconds ?? 0,
      meanSecondsPerRound:
        curve.length > 1 ? curve.slice(1).reduce((a, c) => a + c.seconds, 0) / (curve.length - 1) : 0,
      ...(chainSummary !== undefined ? { chain: chainSummary } : {}),
      ...(anonymousVote !== undefined ? { anonymousVote } : {}),
      ...(opts.proofs === true
        ? { proofs: { contributions: allContributions, proven: provenContributions, perUpdate: PROVEN_TOP_K / 256 } }
        : {}),
    }
    await trainer.close()
    if (opts.json && opts.quiet !== true) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else {
      out(
        `done: ${(100 * summary.accuracy).toFixed(1)} % after ${summary.rounds} rounds (centralized ${(100 * centralizedAccuracy).toFixed(1)} %) · ${kb(uploadedBytes)} uploaded in total${chainSummary !== undefined ? ` · rewards paid to ${chainSummary.paidNodes} nodes` : ''} · ${seconds.toFixed(0)} s`,
      )
      for (const line of explainRun(summary, opts, short)) out(line)
      if (chainSummary !== undefined) {
        const c = chainSummary
        const retried = c.openedRounds - summary.rounds
        out(
          `chain: ${summary.rounds} rounds trained · ${c.openedRounds} chain rounds opened${retried > 0 ? ` (${retried} for retried attempts)` : ''}: ${c.settledRounds} settled by their committees, ${c.refundedRounds} refunded${c.openRounds > 0 ? `, ${c.openRounds} still open` : ''} · ${c.rewardsFunded} funded: ${c.rewardsPaid} paid in rewards to ${c.paidNodes} nodes, ${c.rewardsRefunded} refunded to the job's creator${c.rewardsUnclaimed !== '0 VAIN' ? `, ${c.rewardsUnclaimed} not claimed yet` : ''}`,
        )
        for (const n of chainSummary.nodes) {
          out(
            `  ${short(n.peerId)} ${n.address.startsWith('0x') ? shortAddress(n.address) : n.address}  stake ${n.staked}  tier ${n.tier}  reputation ${n.reputation}  earned ${n.earned}  trained ${n.roundsTrained ?? 0}/${summary.rounds} rounds, committee ${n.committeeRounds ?? 0}×`,
          )
        }
        for (const line of explainReputations(chainSummary, summary.rounds, short)) out(line)
      }
      if (summary.proofs !== undefined) {
        out(
          `proven updates: ${summary.proofs.proven} of ${summary.proofs.contributions} accepted updates carried ${summary.proofs.perUpdate} Groth16 proofs each, checked by every committee member (norm ≤ ${PROVEN_NORM_BOUND}); their digests are in the settled reward leaves, open to challenge on chain`,
        )
      }
      if (outcome === 'timeout') out('! the job did not finish in time')
    }
    return summary
  } finally {
    await cleanup()
  }
}

interface ChainSetup {
  chain: LocalChain
  admin: VainClient
  /** Path of node `i`'s config file (its chain section). */
  configFor(i: number): string
}

/** Local chain, suite, and every node funded and staked for tier 3; writes each node's chain config. */
async function setUpChain(
  nodes: number,
  root: string,
  out: (line: string) => void,
  keep: (chain: LocalChain) => void,
): Promise<ChainSetup> {
  const t0 = performance.now()
  const chain = await startLocalChain({ accounts: nodes + 1 })
  keep(chain)
  const { addresses } = await deployVain(chain.walletClient(0), DEV_DEPLOY_PARAMS)
  const account = (i: number) => chain.accounts[i] as { address: Address; privateKey: `0x${string}` }
  const admin = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(0).privateKey })
  out(
    `chain ${chain.rpcUrl.replace('http://', '')} (Hardhat, in this process) · vAIn suite deployed in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  // the deployer holds the supply: fund the nodes (one sender: in order), then each stakes (in parallel)
  for (let i = 1; i <= nodes; i++) await admin.token.transfer(account(i).address, NODE_FUNDS)
  // the deployer creates the jobs: the network asks job creators for a stake (tier 1)
  await admin.staking.stake(CREATOR_STAKE)
  const before = await admin.standing(account(1).address)
  const tiers = await Promise.all(
    Array.from({ length: nodes }, async (_, k) => {
      const node = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(k + 1).privateKey })
      await node.staking.stake(NODE_STAKE)
      return (await node.standing()).tier
    }),
  )
  out(
    `funded ${nodes} nodes with ${formatVain(NODE_FUNDS)}, each staked ${formatVain(NODE_STAKE)}: tier ${before.tier} → ${[...new Set(tiers)].join('/')} (aggregators need tier 3)`,
  )
  const configFor = (i: number): string => join(root, `chain-n${i}.json`)
  await Promise.all(
    Array.from({ length: nodes }, (_, i) =>
      writeFile(
        configFor(i),
        JSON.stringify({ chain: { rpcUrl: chain.rpcUrl, account: i + 1, addresses, pollMs: 250 } }, null, 2),
      ),
    ),
  )
  return { chain, admin, configFor }
}

/** Waits until every peer id is bound to an address in the NodeRegistry (or `ms` passed). */
async function waitRegistered(admin: VainClient, ids: readonly string[], ms: number): Promise<Map<string, Address>> {
  const found = new Map<string, Address>()
  const deadline = Date.now() + ms
  while (found.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (found.has(id)) continue
      const a = await admin.registry.nodeOf(id)
      if (a !== undefined) found.set(id, a)
    }
    if (found.size < ids.length) await new Promise((r) => setTimeout(r, 250))
  }
  return found
}

interface RoundPayout {
  round: number | undefined
  signers: number
  /** Contributions of the settled result (Infinity until the settlement is seen). */
  contributions: number
  /** What the settled result pays out in all. */
  totalReward: bigint
  paid: bigint
  accounts: Set<string>
  printed: boolean
}

/** Follows settlements and claims from the observer's chain view; prints a line per round once paid. */
function followRewards(obs: Awaited<ReturnType<typeof startVainNode>>, out: (line: string) => void) {
  const service = obs.chain
  if (service === undefined) throw new Error('the observer has no chain')
  const rounds = new Map<bigint, RoundPayout>()
  const committees = new Map<bigint, number>()
  const earned = new Map<string, bigint>()
  let muted = false
  const entry = (roundId: bigint, round: number | undefined): RoundPayout => {
    let e = rounds.get(roundId)
    if (e === undefined) {
      e = {
        round,
        signers: 0,
        contributions: Number.POSITIVE_INFINITY,
        totalReward: 0n,
        paid: 0n,
        accounts: new Set(),
        printed: false,
      }
      rounds.set(roundId, e)
    }
    e.round ??= round
    return e
  }
  const check = (roundId: bigint): void => {
    const r = rounds.get(roundId)
    if (r === undefined || r.printed || r.accounts.size < r.contributions) return
    r.printed = true
    if (muted) return
    const round = r.round === undefined ? '?' : String(r.round + 1).padStart(2)
    out(
      `         ⛓ round ${round} settled on chain (#${roundId}, ${r.signers}/${committees.get(roundId) ?? '?'} committee signatures) · ${formatVain(r.paid)} paid to ${r.accounts.size} nodes`,
    )
  }
  /** Chain rounds this node (the job's creator) opened: pool, deadline, round. */
  const opened = new Map<bigint, { pool: bigint; deadline: bigint; round: number | undefined }>()
  const settledIds = new Set<bigint>()
  const refunded = new Map<bigint, bigint>()
  service.on('round:opened', (r) => {
    committees.set(r.roundId, r.committee.length)
    if (r.byMe) opened.set(r.roundId, { pool: r.rewardPool, deadline: r.deadline, round: r.round })
  })
  service.on('round:settled', (r) => {
    settledIds.add(r.roundId)
    const e = entry(r.roundId, r.round)
    e.signers = r.signers
    e.contributions = r.contributions
    e.totalReward = r.totalReward
    check(r.roundId)
  })
  service.on('round:refunded', (r) => {
    if (!opened.has(r.roundId)) return
    refunded.set(r.roundId, r.refund)
    if (muted) return
    const o = opened.get(r.roundId)
    const round = o?.round === undefined ? '?' : String(o.round + 1).padStart(2)
    out(
      `         ⛓ round ${round}: chain round #${r.roundId} refunded (an attempt not settled by its deadline) · ${formatVain(r.refund)} back to the job's creator`,
    )
  })
  service.on('reward:claimed', (c) => {
    const e = entry(c.roundId, c.round)
    e.paid += c.amount
    e.accounts.add(c.account)
    earned.set(c.account, (earned.get(c.account) ?? 0n) + c.amount)
    check(c.roundId)
  })
  return {
    /**
     * Waits until every chain round this node opened is settled with every reward claimed, or
     * refunded: `ms` at most for claims of settled rounds; for a round not settled, until 20 s
     * after its deadline (this node refunds it once the deadline has passed).
     */
    async closed(ms: number): Promise<void> {
      const end = Date.now() + ms
      let told = false
      for (;;) {
        const refundedOrPaid = (id: bigint): boolean => refunded.has(id) || rounds.get(id)?.printed === true
        const pending = [...opened.keys()].filter((id) => !refundedOrPaid(id))
        if (pending.length === 0) return
        const unsettled = pending.filter((id) => !settledIds.has(id))
        const lastDeadline = unsettled.reduce((m, id) => {
          const d = opened.get(id)?.deadline ?? 0n
          return d > m ? d : m
        }, 0n)
        const nowS = BigInt(Math.floor(Date.now() / 1000))
        const refundBy = (Number(lastDeadline) + 20) * 1000
        if (Date.now() > Math.max(end, unsettled.length > 0 ? refundBy : 0)) return
        if (unsettled.length > 0 && !told && lastDeadline > nowS && Date.now() > end && !muted) {
          told = true
          out(
            `         ⛓ ${unsettled.length === 1 ? 'a chain round' : `${unsettled.length} chain rounds`} not settled (${unsettled.map((id) => `#${id}`).join(' ')}): waiting ${lastDeadline - nowS} s for ${unsettled.length === 1 ? 'its' : 'their'} deadline, then the refund`,
          )
        }
        await new Promise((r) => setTimeout(r, 250))
      }
    },
    /** No more lines (the summary follows). */
    mute(): void {
      muted = true
    },
    async summary(
      rpcUrl: string,
      admin: VainClient,
      ids: readonly string[],
      addresses: ReadonlyMap<string, Address>,
    ): Promise<DemoChainSummary> {
      const nodes = await Promise.all(
        ids.map(async (peerId) => {
          const address = addresses.get(peerId)
          if (address === undefined) {
            return { peerId, address: '(unregistered)', staked: '0 VAIN', tier: 0, reputation: '0', earned: '0 VAIN' }
          }
          const s = await admin.standing(address)
          return {
            peerId,
            address,
            staked: formatVain(s.staked),
            tier: s.tier,
            reputation: String(s.reputation),
            earned: formatVain(earned.get(address) ?? 0n),
          }
        }),
      )
      // the chain rounds this node opened (the job's): settled or refunded, and where their pools went
      const mine = [...opened.keys()]
      const settled = mine.filter((id) => settledIds.has(id))
      const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n)
      const pool = (id: bigint): bigint => opened.get(id)?.pool ?? 0n
      const total = (id: bigint): bigint => rounds.get(id)?.totalReward ?? 0n
      const paid = (id: bigint): bigint => rounds.get(id)?.paid ?? 0n
      return {
        rpcUrl,
        openedRounds: mine.length,
        settledRounds: settled.length,
        refundedRounds: mine.filter((id) => refunded.has(id)).length,
        openRounds: mine.filter((id) => !refunded.has(id) && !settledIds.has(id)).length,
        rewardsFunded: formatVain(sum(mine.map(pool))),
        rewardsPaid: formatVain(sum(settled.map(paid))),
        rewardsRefunded: formatVain(sum([...refunded.values()]) + sum(settled.map((id) => pool(id) - total(id)))),
        rewardsUnclaimed: formatVain(sum(settled.map((id) => total(id) - paid(id)))),
        paidNodes: [...earned.values()].filter((v) => v > 0n).length,
        nodes,
      }
    },
  }
}

/** Bytes in KiB/MiB (binary units), for the sentences of the summary. */
const kib = (b: number): string =>
  b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`

/**
 * The summary in words: why the demo stopped, what the upload figure counts, rounds trained vs
 * rounds settled on chain.
 */
export function explainRun(
  summary: DemoSummary,
  opts: Pick<DemoOptions, 'rounds' | 'target'>,
  short: (id: string) => string,
): string[] {
  const lines: string[] = []
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`
  if (summary.stopReason === 'target') {
    lines.push(
      `why it stopped: the global model reached the target ${pct(opts.target)} after round ${summary.targetReachedAtRound} (--target); ${summary.rounds} rounds ran in all (a round under way when the target was reached completes)`,
    )
  } else if (summary.stopReason === 'rounds') {
    lines.push(
      `why it stopped: all ${opts.rounds} rounds ran (--rounds ${opts.rounds}) without reaching the target ${pct(opts.target)}; more rounds or nodes would get closer`,
    )
  } else {
    lines.push(`why it stopped: the job did not finish in time (${summary.rounds} of ${opts.rounds} rounds completed)`)
  }
  if (summary.bytesPerNodePerRound > 0) {
    lines.push(
      `upload: each node uploaded ${kib(summary.bytesPerNodePerRound)} per round on average (its compressed update, sent to every committee member), ${summary.compression.toFixed(0)}× less than the dense float32 model of ${kib(summary.denseModelBytes)} it would otherwise send to each`,
    )
  }
  const lazy = summary.participation.filter((p) => p.roundsTrained < summary.rounds)
  if (lazy.length > 0 && summary.rounds > 0) {
    lines.push(
      `participation: ${lazy
        .slice(0, 5)
        .map((p) => `${short(p.peerId)} missed ${summary.rounds - p.roundsTrained} of ${summary.rounds} rounds`)
        .join(
          ', ',
        )}${lazy.length > 5 ? ` and ${lazy.length - 5} more` : ''} (its update came late or not at all: a round closes once enough updates are in)`,
    )
  }
  const c = summary.chain
  if (c !== undefined) {
    const unsettled = summary.rounds - c.settledRounds
    lines.push(
      `rounds trained vs settled: ${summary.rounds} trained (each made a new global model its committee agreed on), ${c.settledRounds} settled on chain (the committee's signed result, rewards claimable)${unsettled > 0 ? `; ${unsettled} trained but not settled — on a busy machine a round can finish before its chain round is opened, or its committee's signatures missed the deadline (then its pool is refunded)` : ''}`,
    )
  }
  return lines
}

/** Why the nodes' reputations differ: from the rounds they trained in and the committees they sat on. */
export function explainReputations(chain: DemoChainSummary, rounds: number, short: (id: string) => string): string[] {
  const reps = chain.nodes.map((n) => BigInt(n.reputation))
  if (reps.length < 2 || reps.every((r) => r === reps[0])) {
    return reps.length < 2
      ? []
      : ['reputations: all equal — every node trained in and sat on committees for as many rounds']
  }
  const why = chain.nodes
    .map((n, i) => ({ n, i }))
    .toSorted((a, b) => (BigInt(a.n.reputation) < BigInt(b.n.reputation) ? -1 : 1))
    .slice(0, 3)
    .map(({ n, i }) => {
      const missed = rounds - (n.roundsTrained ?? 0)
      const bits = [
        missed > 0 ? `missed ${missed} round${missed === 1 ? '' : 's'}` : `trained in all ${rounds} rounds`,
        `sat on ${n.committeeRounds ?? 0} committee${n.committeeRounds === 1 ? '' : 's'}`,
      ]
      return `node ${i} (${short(n.peerId)}, reputation ${n.reputation}) ${bits.join(' and ')}`
    })
  return [
    'why reputations differ: a node gains reputation for each settled round it trained in (with its reward claim) and for each settlement it signed as a committee member; rounds it missed or that were not settled add nothing',
    `  lowest: ${why.join('; ')}`,
  ]
}
