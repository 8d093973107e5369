/** `runSimulation`: many clients trained in-process on worker threads. @module */
import { z } from 'zod'
import { createAggregator } from '../aggregators/spec.js'
import type { Aggregator } from '../aggregators/types.js'
import type { Attack } from '../attacks/attacks.js'
import { applyAttack, selectAttackers } from '../attacks/select.js'
import { createAttack } from '../attacks/spec.js'
import { fp32, type UpdateCodec } from '../codecs/codecs.js'
import { decodeUpdate } from '../codecs/format.js'
import { createCodec } from '../codecs/spec.js'
import type { Dataset } from '../data/dataset.js'
import { type Partition, partitionDataset } from '../data/partition.js'
import { ConfigError, ShapeMismatchError } from '../errors.js'
import { type Architecture, countParameters, inputSizeOf, parseArchitecture } from '../models/architecture.js'
import { createModel, type Model } from '../models/model.js'
import { dpFedAvg } from '../privacy/dp.js'
import { computeEpsilon } from '../privacy/rdp.js'
import { createRng } from '../random.js'
import type { ModelRegistry } from '../registry/types.js'
import { createStrategy } from '../strategies/spec.js'
import type { ClientUpdate, Strategy } from '../strategies/types.js'
import { createTrainingPool, defaultWorkerCount, type TrainingPool } from './pool.js'
import { createProgressReporter, type ProgressReporter } from './progress.js'
import { deriveSeed } from './seeds.js'
import type { TrainOutcome } from './tasks.js'
import type { RoundLog, RoundsToAccuracy, SimulationComponents, SimulationOptions, SimulationResult } from './types.js'

/** Accuracy targets of the rounds-to-accuracy curve when none are given (0.5 … 0.95). */
export const DEFAULT_ACCURACY_TARGETS: readonly number[] = Object.freeze([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])

const OptionsSchema = z.object({
  clients: z.number().int().min(1).max(1_000_000),
  rounds: z.number().int().min(1).max(1_000_000),
  fraction: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  workers: z.number().int().min(0).max(256).optional(),
  evaluateEvery: z.number().int().min(1).optional(),
  targets: z.array(z.number().min(0).max(1)).optional(),
  local: z.strictObject({
    epochs: z.number().int().min(1),
    batchSize: z.number().int().min(1),
    lr: z.union([z.number().positive().finite(), z.function()]),
    momentum: z.number().min(0).max(1).optional(),
    weightDecay: z.number().min(0).finite().optional(),
  }),
  dp: z
    .strictObject({
      clipNorm: z.number().positive().finite(),
      noiseMultiplier: z.number().min(0).finite(),
      delta: z.number().gt(0).lt(1).optional(),
    })
    .optional(),
  attack: z
    .object({ fraction: z.number().min(0).lt(1) })
    .passthrough()
    .optional(),
})

const isModel = (m: Architecture | Model): m is Model => 'params' in m && m.params instanceof Float32Array
const isStrategy = (s: unknown): s is Strategy => typeof (s as Strategy | undefined)?.aggregate === 'function'
const isAggregator = (a: unknown): a is Aggregator => typeof (a as Aggregator | undefined)?.aggregate === 'function'

function checkDatasets(arch: Architecture, train: Dataset, test: Dataset): void {
  for (const [what, d] of [
    ['train', train],
    ['test', test],
  ] as const) {
    if (d.features !== inputSizeOf(arch))
      throw new ShapeMismatchError(`${what} set features vs model inputs`, [inputSizeOf(arch)], [d.features])
    if (d.size === 0) throw new ConfigError(`the ${what} set is empty`)
  }
}

/** Picks `count` distinct items of `from` (partial Fisher–Yates). */
function sample(from: readonly number[], count: number, rng: ReturnType<typeof createRng>): number[] {
  const a = [...from]
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(a.length - i)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a.slice(0, count)
}

/**
 * The first round at which each target accuracy was reached (round 0: the initial model).
 *
 * @example
 * ```ts
 * import { roundsToAccuracy } from '@vain/fl'
 * roundsToAccuracy([{ round: 0, accuracy: 0.1 }, { round: 1, accuracy: 0.9 }], [0.5, 0.95])
 * // [{ target: 0.5, round: 1 }, { target: 0.95, round: undefined }]
 * ```
 */
export function roundsToAccuracy(
  curve: readonly { round: number; accuracy: number | undefined }[],
  targets: readonly number[] = DEFAULT_ACCURACY_TARGETS,
): RoundsToAccuracy[] {
  return targets.map((target) => ({
    target,
    round: curve.find((c) => c.accuracy !== undefined && c.accuracy >= target)?.round,
  }))
}

/**
 * Runs a federated-learning experiment in this process: `clients` clients hold a partition of
 * the training set; every round a seeded sample of them trains the global model locally (on
 * worker threads, each with its own onnxruntime trainer) and the server side plays the rest of
 * the protocol in order — **attack** (the attackers' updates are replaced; label flipping
 * poisons their data instead), **codec** (each client's update is encoded with its own codec —
 * error-feedback memory kept per client — and decoded; bytes counted), **DP** (clipping and
 * Gaussian noise of DP-FedAvg, with the RDP ε reported), then the **aggregator** and the
 * **strategy** produce the next global model, which is evaluated on the test set.
 *
 * Deterministic: the same options (and seed) give a bit-identical final model, whatever the
 * number of workers. Aborting `signal` rejects with its reason and terminates the workers.
 *
 * @example
 * ```ts
 * import { loadMnist, mlp, runSimulation } from '@vain/fl'
 *
 * const dataset = await loadMnist()
 * const result = await runSimulation({
 *   dataset,
 *   model: mlp(784, [128], 10),
 *   clients: 100,
 *   rounds: 30,
 *   fraction: 0.1,
 *   partition: { kind: 'dirichlet', alpha: 0.5 },
 *   strategy: { name: 'fedavgm', params: { momentum: 0.5 } },
 *   aggregator: { name: 'trimmed-mean', params: { beta: 0.2 } },
 *   codec: { name: 'top-k', params: { fraction: 0.01, values: 'int8' } },
 *   attack: { name: 'sign-flip', fraction: 0.2 },
 *   local: { epochs: 5, batchSize: 10, lr: 0.05, momentum: 0.9 },
 *   seed: 1,
 *   progress: true,
 * })
 * console.log(result.finalAccuracy, result.roundsToAccuracy, result.totals.compressionRatio)
 * ```
 */
export async function runSimulation(
  options: SimulationOptions,
  components: SimulationComponents = {},
): Promise<SimulationResult> {
  const parsed = OptionsSchema.safeParse(options)
  if (!parsed.success) {
    throw new ConfigError(
      'invalid simulation options',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  const { signal } = options
  signal?.throwIfAborted()
  const started = performance.now()
  const seed = options.seed ?? 0
  const { train, test } = options.dataset
  const initial: Model = isModel(options.model)
    ? { architecture: parseArchitecture(options.model.architecture), params: options.model.params.slice() }
    : createModel(options.model, { seed: deriveSeed(seed, 'init') })
  const arch = initial.architecture
  checkDatasets(arch, train, test)
  const P = countParameters(arch)
  const N = options.clients
  const perRound = Math.max(1, Math.min(N, Math.round((options.fraction ?? 0.1) * N)))

  // partition
  let partition: Partition
  if (Array.isArray(options.partition)) {
    partition = options.partition
    if (partition.length !== N) throw new ConfigError(`the partition has ${partition.length} clients, not ${N}`)
  } else {
    partition = partitionDataset(train, {
      ...(options.partition ?? { kind: 'iid' }),
      clients: N,
      seed: deriveSeed(seed, 'partition'),
    } as never)
  }
  for (const [c, rows] of partition.entries()) {
    if (rows.length === 0) throw new ConfigError(`client ${c} has no training rows`)
  }

  // aggregator, DP, strategy
  let aggregator: Aggregator | undefined
  if (options.aggregator !== undefined)
    aggregator = isAggregator(options.aggregator) ? options.aggregator : createAggregator(options.aggregator)
  const dp = parsed.data.dp
  if (dp !== undefined) {
    if (aggregator !== undefined && aggregator.name !== 'mean') {
      throw new ConfigError(
        `dp (DP-FedAvg sums clipped updates) cannot be combined with the '${aggregator.name}' aggregator`,
      )
    }
    aggregator = dpFedAvg({
      clipNorm: dp.clipNorm,
      noiseMultiplier: dp.noiseMultiplier,
      expectedClients: perRound,
      seed: deriveSeed(seed, 'dp-noise'),
    })
  }
  let strategy: Strategy
  if (isStrategy(options.strategy)) {
    if (aggregator !== undefined)
      throw new ConfigError('give the aggregator (or dp) to the strategy instance, or pass the strategy as a spec')
    strategy = options.strategy
  } else {
    strategy = createStrategy(options.strategy ?? { name: 'fedavg' }, aggregator === undefined ? {} : { aggregator })
  }

  // attack
  let attack: Attack | undefined
  let attackerSet: number[] = []
  let perRoundAttackers = 0
  if (options.attack !== undefined) {
    const a = options.attack
    attack =
      'attack' in a ? a.attack : createAttack({ name: a.name, ...(a.params !== undefined ? { params: a.params } : {}) })
    attackerSet = selectAttackers(N, a.fraction, deriveSeed(seed, 'attackers'))
    perRoundAttackers = Math.min(attackerSet.length, Math.floor(a.fraction * perRound + 1e-9))
  }
  const isAttacker = new Set(attackerSet)
  const honestSet = Array.from({ length: N }, (_, i) => i).filter((i) => !isAttacker.has(i))
  const poisonedLabels = new Map<number, Int32Array>()
  const labelsOf = (client: number): Int32Array | undefined => {
    if (attack?.poisonLabels === undefined || !isAttacker.has(client)) return undefined
    let labels = poisonedLabels.get(client)
    if (labels === undefined) {
      const rows = partition[client]!
      const own = new Int32Array(rows.length)
      for (let k = 0; k < rows.length; k++) own[k] = train.labels[rows[k]!]!
      labels = attack.poisonLabels(own, train.numClasses)
      poisonedLabels.set(client, labels)
    }
    return labels
  }

  // codecs
  const codecs = new Map<number, UpdateCodec>()
  const codecOf = (client: number): UpdateCodec | undefined => {
    const spec = options.codec
    if (spec === undefined) return undefined
    let codec = codecs.get(client)
    if (codec === undefined) {
      if (typeof spec === 'function') codec = spec(client)
      else {
        const seeded = ['int8', 'int4', 'top-k'].includes(spec.name) && spec.params?.seed === undefined
        codec = createCodec(
          seeded ? { name: spec.name, params: { ...spec.params, seed: deriveSeed(seed, 'codec', client) } } : spec,
        )
      }
      codecs.set(client, codec)
    }
    return codec
  }
  const denseUpdateBytes = fp32().encode(new Float32Array(P)).byteLength
  if (options.codec !== undefined) codecOf(0) // validate the spec before starting workers

  const lrSchedule = options.local.lr
  const lrOf = (round: number): number => {
    const lr = typeof lrSchedule === 'number' ? lrSchedule : lrSchedule(round)
    if (!(Number.isFinite(lr) && lr > 0)) throw new ConfigError(`local lr of round ${round} must be > 0, got ${lr}`)
    return lr
  }
  const local = {
    epochs: options.local.epochs,
    batchSize: options.local.batchSize,
    momentum: options.local.momentum ?? 0,
    weightDecay: options.local.weightDecay ?? 0,
    proxMu: strategy.proximalMu,
  }
  const delta = dp?.delta ?? 1e-5
  const targets = options.targets ?? DEFAULT_ACCURACY_TARGETS
  const evaluateEvery = options.evaluateEvery ?? 1
  const registry: ModelRegistry | undefined = components.registry
  const registryName = options.registryName ?? 'simulation'

  let reporter: ProgressReporter | undefined
  if (options.progress !== undefined && options.progress !== false) {
    reporter = createProgressReporter(
      options.progress === true ? process.stderr : options.progress,
      options.rounds,
      options.label ?? 'simulation',
    )
  }

  const ownPool = components.pool === undefined
  const pool: TrainingPool =
    components.pool ??
    createTrainingPool({
      train,
      test,
      workers: options.workers ?? defaultWorkerCount(),
    })
  // aborting stops our own pool at once (terminating the threads); a borrowed pool is left running
  const onAbort = () => {
    if (ownPool) void pool.stop()
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (ownPool) await pool.start()
    signal?.throwIfAborted()
    const runOptions = signal === undefined ? {} : { signal }
    const evaluate = (params: Float32Array) => pool.run({ kind: 'evaluate', architecture: arch, params }, runOptions)

    let global = initial.params
    if (registry !== undefined) {
      await registry.registerVersion(registryName, initial, { metadata: { round: 0, seed } })
    }
    const track = <T>(state: 'training' | 'aggregating' | 'evaluating', fn: () => Promise<T> | T): Promise<T> =>
      registry === undefined ? Promise.resolve(fn()) : registry.track(registryName, state, fn)

    const first = await track('evaluating', () => evaluate(global))
    const history: RoundLog[] = []
    const curve: { round: number; accuracy: number | undefined }[] = [{ round: 0, accuracy: first.accuracy }]
    let last = first
    const totals = { bytesUp: 0, denseBytesUp: 0, bytesDown: 0, localSteps: 0 }
    let privacy: SimulationResult['privacy']

    for (let round = 1; round <= options.rounds; round++) {
      signal?.throwIfAborted()
      // 1. sample clients (stratified: a fixed number of attackers per round)
      const rng = createRng(deriveSeed(seed, 'sample', round))
      const chosenAttackers = sample(attackerSet, perRoundAttackers, rng)
      const clients = [...chosenAttackers, ...sample(honestSet, perRound - chosenAttackers.length, rng)].sort(
        (a, b) => a - b,
      )
      // 2. local training on the workers
      const outcomes: TrainOutcome[] = await track('training', () =>
        Promise.all(
          clients.map((client) =>
            pool.run(
              {
                kind: 'train',
                architecture: arch,
                params: global,
                indices: partition[client]!,
                labels: labelsOf(client),
                options: { ...local, lr: lrOf(round), seed: deriveSeed(seed, 'train', round, client) },
              },
              runOptions,
            ),
          ),
        ),
      )
      signal?.throwIfAborted()
      const roundAttackers = clients.flatMap((c, i) => (isAttacker.has(c) ? [i] : []))
      const next = await track('aggregating', () => {
        // 3. model poisoning by this round's attackers
        let deltas = outcomes.map((o) => o.delta)
        if (attack?.poisonUpdates !== undefined && roundAttackers.length > 0) {
          deltas = applyAttack(attack, deltas, { attackers: roundAttackers }).updates
        }
        // 4. compression, per client
        let bytesUp = 0
        const received = deltas.map((d, i) => {
          const codec = codecOf(clients[i]!)
          if (codec === undefined) {
            bytesUp += denseUpdateBytes
            return d
          }
          const bytes = codec.encode(d)
          bytesUp += bytes.byteLength
          return decodeUpdate(bytes, { expectedLength: P })
        })
        // 5. DP + robust aggregation + server optimizer
        const updates: ClientUpdate[] = received.map((d, i) => ({ delta: d, numSamples: outcomes[i]!.samples }))
        return { params: strategy.aggregate(global, updates), bytesUp }
      })
      global = next.params
      const evaluated = round % evaluateEvery === 0 || round === options.rounds
      const ev = evaluated ? await track('evaluating', () => evaluate(global)) : undefined
      if (ev !== undefined) last = ev
      if (dp !== undefined) {
        const spent = computeEpsilon(
          { samplingRate: perRound / N, noiseMultiplier: dp.noiseMultiplier, steps: round },
          delta,
        )
        privacy = { epsilon: spent.epsilon, delta, order: spent.order }
      }
      let samples = 0
      let lossSum = 0
      let steps = 0
      for (const o of outcomes) {
        samples += o.samples
        lossSum += o.loss * o.samples
        steps += o.steps
      }
      const log: RoundLog = {
        round,
        clients,
        attackers: roundAttackers.length,
        accuracy: ev?.accuracy,
        testLoss: ev?.loss,
        trainLoss: lossSum / samples,
        bytesUp: next.bytesUp,
        denseBytesUp: denseUpdateBytes * clients.length,
        bytesDown: denseUpdateBytes * clients.length,
        epsilon: privacy?.epsilon,
        localSteps: steps,
        elapsedMs: performance.now() - started,
      }
      totals.bytesUp += log.bytesUp
      totals.denseBytesUp += log.denseBytesUp
      totals.bytesDown += log.bytesDown
      totals.localSteps += steps
      history.push(log)
      curve.push({ round, accuracy: log.accuracy })
      if (registry !== undefined) {
        await registry.registerVersion(
          registryName,
          { architecture: arch, params: global },
          {
            metadata: {
              round,
              ...(ev !== undefined ? { accuracy: ev.accuracy, loss: ev.loss } : {}),
            },
          },
        )
      }
      reporter?.round(log)
      options.onRound?.(log)
    }
    reporter?.done()
    const evaluatedAccuracies = curve.flatMap((c) => (c.accuracy === undefined ? [] : [c.accuracy]))
    return {
      model: { architecture: arch, params: global },
      initial: { accuracy: first.accuracy, loss: first.loss },
      history,
      finalAccuracy: last.accuracy,
      bestAccuracy: Math.max(...evaluatedAccuracies),
      roundsToAccuracy: roundsToAccuracy(curve, targets),
      attackers: attackerSet,
      clientSizes: partition.map((rows) => rows.length),
      totals: {
        ...totals,
        compressionRatio: totals.denseBytesUp / totals.bytesUp,
        wallMs: performance.now() - started,
      },
      privacy,
    }
  } catch (err) {
    reporter?.done()
    // a pool stopped by the abort rejects its tasks with ClosedError: report the abort instead
    if (signal?.aborted) throw signal.reason
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (ownPool) await pool.stop()
  }
}
