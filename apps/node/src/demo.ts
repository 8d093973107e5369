/**
 * `vain demo`: a local vAIn network on 127.0.0.1. N nodes run as separate processes
 * (`vain start`), each with its own non-IID shard of MNIST (the data never leaves its process);
 * this process joins as an observer, submits a job, and shows the rounds as the nodes train and
 * aggregate with no server: accuracy on the 2,000 held-out digits, bytes uploaded, time.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createLocalTrainer, createModel, decodeModel, encodeModel, type JobSpecInput, loadMnist, mlp } from '@vain/fl'
import { JOBS_TOPIC } from './adapters/transport.js'
import { createLogger } from './logger.js'
import { startVainNode } from './runtime.js'

export interface DemoOptions {
  nodes: number
  rounds: number
  target: number
  codec: string
  json: boolean
  keep: boolean
  verbose: boolean
  /** Print nothing (benchmarks read the returned summary). */
  quiet?: boolean
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
}

interface Child {
  proc: ChildProcess
  peerId: string
  multiaddrs: string[]
  api: string | null
}

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url))

function startChild(args: string[], verbose: boolean): Promise<Child> {
  const proc = spawn(process.execPath, ['--conditions=vain-source', '--import', 'tsx', CLI, 'start', ...args], {
    stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'ignore'],
  })
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

function codecSpec(name: string): JobSpecInput['codec'] {
  if (name === 'top-k') return { name: 'top-k', params: { fraction: 0.05, values: 'int8', errorFeedback: true } }
  return { name, params: {} }
}

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const started = performance.now()
  const out = (line: string): void => {
    if (!opts.json && opts.quiet !== true) process.stdout.write(`${line}\n`)
  }
  const root = await mkdtemp(join(tmpdir(), 'vain-demo-'))
  const children: Child[] = []
  const log = createLogger({ level: opts.verbose ? 'debug' : 'warn', json: false, name: 'observer' })
  let observer: Awaited<ReturnType<typeof startVainNode>> | undefined
  const cleanup = async (): Promise<void> => {
    await observer?.stop().catch(() => {})
    for (const c of children) c.proc.kill('SIGTERM')
    await Promise.all(
      children.map((c) => (c.proc.exitCode !== null ? undefined : new Promise((r) => c.proc.once('exit', r)))),
    )
    if (!opts.keep) await rm(root, { recursive: true, force: true })
  }
  process.once('SIGINT', () => {
    out('\ninterrupted: stopping the nodes')
    void cleanup().then(() => process.exit(130))
  })
  try {
    out(
      `vAIn demo — ${opts.nodes} nodes on 127.0.0.1 (separate processes), MNIST split non-IID (Dirichlet α=0.5) across nodes`,
    )
    // 1. the network: node 0 first, the others bootstrap from it and find each other (PEX, DHT)
    const common = ['--profile', 'loopback', '--json', ...(opts.verbose ? ['-v'] : [])]
    const shardArgs = (i: number) => ['--mnist-shard', `${i}/${opts.nodes}`]
    const first = await startChild(['--data-dir', join(root, 'n0'), ...shardArgs(0), ...common], opts.verbose)
    children.push(first)
    // start the others a few at a time: each process loads onnxruntime and MNIST
    for (let k = 1; k < opts.nodes; k += 6) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(6, opts.nodes - k) }, (_, j) =>
          startChild(
            [
              '--data-dir',
              join(root, `n${k + j}`),
              ...shardArgs(k + j),
              '--bootstrap',
              first.multiaddrs[0] as string,
              ...common,
            ],
            opts.verbose,
          ),
        ),
      )
      children.push(...batch)
    }
    observer = await startVainNode(
      {
        dataDir: join(root, 'observer'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [first.multiaddrs[0] as string],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: opts.verbose ? 'debug' : 'warn',
        json: false,
      },
      log,
    )
    const obs = observer
    const ids = children.map((c) => c.peerId)
    const short = (id: string) => `…${id.slice(-4)}`
    // 2. wait until the observer sees every node and the gossip mesh can carry the job
    const meshDeadline = Date.now() + 60_000 + 2_000 * opts.nodes
    while (Date.now() < meshDeadline) {
      const authed = new Set(obs.node.authenticatedPeers().map(String))
      if (ids.every((id) => authed.has(id)) && obs.node.topicPeers(JOBS_TOPIC).length >= Math.min(3, opts.nodes)) break
      await new Promise((r) => setTimeout(r, 250))
    }
    await new Promise((r) => setTimeout(r, 1500)) // a gossipsub heartbeat or two
    out(`peers ${obs.node.authenticatedPeers().length}/${opts.nodes} · ${ids.map(short).join(' ')}`)

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
    const finished = new Promise<void>((resolve) => {
      obs.participant.addEventListener('round:completed', (e) => {
        void (async () => {
          const { round, model, contributions, committee } = e.detail
          const bytes = contributions.reduce((a, c) => a + c.payloadBytes, 0) * committee.length
          uploadedBytes += bytes
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
          const width = 20
          const filled = Math.round((width * (round + 1)) / opts.rounds)
          out(
            `round ${String(round + 1).padStart(2)}/${opts.rounds}  ${'█'.repeat(filled)}${'░'.repeat(width - filled)}  accuracy ${(100 * accuracy).toFixed(1)} % (centralized ${(100 * centralizedAccuracy).toFixed(1)} %)  ↑ ${kb(bytes)}/round (${ratio.toFixed(0)}× < dense)  committee ${committee.map(short).join(' ')}`,
          )
          if ((accuracy >= opts.target || round + 1 >= opts.rounds) && !done) {
            done = true
            resolve()
          }
        })()
      })
    })
    jobAt = performance.now()
    const job = await obs.participant.submitJob({
      name: 'mnist-demo',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: codecSpec(opts.codec),
      rounds: opts.rounds,
      roundDeadlineMs: 20_000,
      minUpdates: Math.max(1, Math.ceil(opts.nodes / 2)),
      committeeSize: Math.min(3, opts.nodes),
      local: { epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9 },
      maxUpdateBytes: 16 * 1024 * 1024,
      participants: { aggregators: ids, trainers: ids },
    })
    out(
      `job ${job.jobId.slice(0, 12)} announced: MLP 784-64-10, FedAvg, codec ${opts.codec}, committee of ${Math.min(3, opts.nodes)} per round`,
    )
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), opts.rounds * 30_000 + 30_000).unref())
    const outcome = await Promise.race([finished, timeout])
    const seconds = (performance.now() - started) / 1000
    const last = curve.at(-1)
    const summary: DemoSummary = {
      ok: outcome !== 'timeout' && last !== undefined,
      nodes: opts.nodes,
      rounds: curve.length,
      accuracy: last?.accuracy ?? 0,
      centralizedAccuracy,
      uploadedBytes,
      denseBytesPerRound: dense * opts.nodes * Math.min(3, opts.nodes),
      seconds,
      curve,
      secondsToFirstRound: curve[0]?.seconds ?? 0,
      meanSecondsPerRound:
        curve.length > 1 ? curve.slice(1).reduce((a, c) => a + c.seconds, 0) / (curve.length - 1) : 0,
    }
    await trainer.close()
    if (opts.json && opts.quiet !== true) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else {
      out(
        `done: ${(100 * summary.accuracy).toFixed(1)} % after ${summary.rounds} rounds (centralized ${(100 * centralizedAccuracy).toFixed(1)} %) · ${kb(uploadedBytes)} uploaded in total · ${seconds.toFixed(0)} s`,
      )
      if (outcome === 'timeout') out('! the job did not finish in time')
    }
    return summary
  } finally {
    await cleanup()
  }
}
