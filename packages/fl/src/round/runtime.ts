/**
 * Default pieces to run a job: an aggregation runtime resolved from the job spec (codec,
 * aggregator, strategy) and a learner that trains on a local dataset with onnxruntime.
 * @module
 */
import { createHash } from 'node:crypto'
import { createAggregator } from '../aggregators/index.js'
import { createCodec } from '../codecs/index.js'
import type { Dataset } from '../data/index.js'
import type { Model } from '../models/index.js'
import { combineUpdates } from '../strategies/combine.js'
import { createStrategy } from '../strategies/index.js'
import type { LocalTrainer } from '../train/index.js'
import type { AggregationRuntime, AggregationRuntimeFactory, Learner } from './ports.js'
import type { JobSpec } from './spec.js'

/** Thrown when a job names a codec, aggregator or strategy this node does not know. */
export class UnsupportedJobError extends Error {
  static override name = 'UnsupportedJobError'
  override name = 'UnsupportedJobError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Dense little-endian float32: the baseline codec (`{ name: 'dense' }`). */
export function denseCodec(): Pick<AggregationRuntime, 'encodeUpdate' | 'decodeUpdate'> {
  return {
    encodeUpdate: (delta) => new Uint8Array(delta.buffer.slice(delta.byteOffset, delta.byteOffset + delta.byteLength)),
    decodeUpdate: (bytes, length) => {
      if (bytes.byteLength !== length * 4) throw new RangeError(`expected ${length * 4} bytes, got ${bytes.byteLength}`)
      return new Float32Array(bytes.slice().buffer)
    },
  }
}

/** A node's seed for stochastic rounding: its id mixed with the job's seed, if any. */
function nodeSeed(self: string, jobSeed: unknown): number {
  return createHash('sha256')
    .update(`vain-codec-seed\u0000${self}\u0000${String(jobSeed ?? '')}`)
    .digest()
    .readUInt32BE(0)
}

/** Strategies whose server state would diverge between changing committees (see {@link runtimeFactory}). */
export const STATEFUL_STRATEGIES = ['fedavgm', 'fedadam', 'fedyogi', 'fedadagrad', 'fedbuff'] as const

/**
 * Resolve a job's codec, robust aggregator and strategy by name (`createCodec`,
 * `createAggregator`, `createStrategy`; plus the `dense` codec, plain float32).
 *
 * Committees change every round, so a server optimizer's state (momentum, Adam moments, a
 * FedBuff buffer) would differ between members and break their agreement on the result: the
 * round protocol accepts only stateless strategies (`fedavg`, `fedprox`, `reptile`); the
 * stateful ones run in `runSimulation` and in server-based systems.
 *
 * @throws {UnsupportedJobError} for an unknown or stateful part, with the reason
 * @example
 * ```ts
 * const runtime = runtimeFactory()(spec, 'me')
 * ```
 */
export function runtimeFactory(): AggregationRuntimeFactory {
  return (spec, self) => {
    if ((STATEFUL_STRATEGIES as readonly string[]).includes(spec.strategy.name)) {
      throw new UnsupportedJobError(
        `strategy '${spec.strategy.name}' keeps server state that changing committees cannot share; use fedavg, fedprox or reptile`,
      )
    }
    if (spec.secureAggregation) {
      // members only ever see the sum of the updates: no per-update robust aggregator, no
      // compression (masks make every vector dense and uniform); DP noise is added by trainers
      if (spec.aggregator.name !== 'mean') {
        throw new UnsupportedJobError(
          `secure aggregation reveals only the sum of the updates: aggregator must be 'mean', not '${spec.aggregator.name}'`,
        )
      }
      if (spec.codec.name !== 'dense') {
        throw new UnsupportedJobError(
          `secure aggregation sends dense fixed-point vectors: codec must be 'dense', not '${spec.codec.name}'`,
        )
      }
      if (spec.hierarchy !== undefined) {
        throw new UnsupportedJobError('secure aggregation in a hierarchical job is not supported yet')
      }
      if (spec.staleness !== undefined) {
        throw new UnsupportedJobError('secure aggregation sums one round’s updates: it cannot take stale ones')
      }
    }
    let codec: Pick<AggregationRuntime, 'encodeUpdate' | 'decodeUpdate'>
    let aggregate: AggregationRuntime['aggregate']
    let combine: NonNullable<AggregationRuntime['combine']>
    try {
      if (spec.codec.name === 'dense') codec = denseCodec()
      else {
        // stochastic rounding: each node draws its own noise (one shared seed would correlate
        // the rounding errors of every trainer's update, and they would not average out)
        const seeded = ['int8', 'int4', 'top-k'].includes(spec.codec.name)
          ? { ...spec.codec, params: { ...spec.codec.params, seed: nodeSeed(self, spec.codec.params.seed) } }
          : spec.codec
        const c = createCodec(seeded)
        codec = {
          encodeUpdate: (delta) => c.encode(delta),
          decodeUpdate: (bytes, length) =>
            createCodec(spec.codec).decode(bytes, { expectedLength: length, maxBytes: spec.maxUpdateBytes }),
        }
      }
      const strategy = createStrategy(spec.strategy, { aggregator: createAggregator(spec.aggregator) })
      combine = (global, updates) =>
        Float32Array.from(
          combineUpdates(
            global,
            updates.map((u) => ({ delta: u.delta, numSamples: u.numSamples })),
            { aggregator: createAggregator(spec.aggregator) },
          ),
        )
      aggregate = (global, updates) => {
        strategy.reset()
        return strategy.aggregate(
          global,
          updates.map((u) => ({ delta: u.delta, numSamples: u.numSamples })),
        )
      }
    } catch (err) {
      throw new UnsupportedJobError(`cannot run this job: ${(err as Error).message}`, { cause: err })
    }
    return { ...codec, aggregate, combine }
  }
}

/**
 * A learner that trains on this node's own dataset (which never leaves the node).
 *
 * @example
 * ```ts
 * const learner = datasetLearner(createLocalTrainer(), { mnist: myShard })
 * ```
 */
export function datasetLearner(trainer: LocalTrainer, datasets: Record<string, Dataset>, seed = 1): Learner {
  return {
    supports: (spec) => datasets[spec.dataset.name] !== undefined,
    numSamples: (spec) => datasets[spec.dataset.name]?.labels.length ?? 0,
    train: async (spec: JobSpec, model: Model, round: number, options = {}) => {
      const data = datasets[spec.dataset.name] as Dataset
      const result = await trainer.train(model, data, {
        epochs: spec.local.epochs,
        batchSize: spec.local.batchSize,
        lr: spec.local.lr,
        momentum: spec.local.momentum,
        weightDecay: spec.local.weightDecay,
        ...(spec.local.proxMu > 0 ? { proxMu: spec.local.proxMu, globalParams: model.params } : {}),
        seed: seed * 1000 + round,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
      return { params: result.model.params, numSamples: data.labels.length }
    },
  }
}
