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
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { LocalChain } from '@vain/chain'
import { createLocalTrainer, createModel, decodeModel, encodeModel, type JobSpecInput, loadMnist, mlp } from '@vain/fl'
import { ROUND_TOPICS } from '@vain/fl/vain-net'
import type { Address, Hex } from 'viem'
import { type AnonymousVoteSummary, runAnonymousVote } from './anonymous-vote.js'
import { shortAddress } from './chain/connect.js'
import { ChainConfigSchema } from './config.js'
import { type ChainSetup, followRewards, setUpChain, waitRegistered } from './demo/chain.js'
import { explainReputations, explainRun } from './demo/explain.js'
import { createLogger } from './logger.js'
import { startVainNode } from './runtime.js'
import { selfCommand } from './self.js'

export { explainReputations, explainRun }

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

/** What the job's creator funds a chain round with, in VAIN. */
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
