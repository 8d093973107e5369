/** Options, per-round log and result of {@link runSimulation}. @module */
import type { Aggregator, AggregatorSpec } from '../aggregators/index.js'
import type { Attack, AttackSpec } from '../attacks/index.js'
import type { CodecSpec, UpdateCodec } from '../codecs/index.js'
import type { Dataset, Partition, PartitionOptions } from '../data/index.js'
import type { Architecture, Model } from '../models/index.js'
import type { ModelRegistry } from '../registry/types.js'
import type { Strategy, StrategySpec } from '../strategies/index.js'
import type { TrainingPool } from './pool.js'
import type { ProgressStream } from './progress.js'

/** How to split the training set: a partitioner spec (its `clients` and `seed` come from the simulation) or a ready partition. */
export type SimulationPartition = DistributiveOmit<PartitionOptions, 'clients' | 'seed'> | Partition

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** Local training of every client (per round, from the current global model; momentum restarts each round). */
export interface LocalTrainingSpec {
  epochs: number
  batchSize: number
  /** Learning rate, or a schedule of the (1-based) round, e.g. `(r) => 0.05 * 0.97 ** r`. */
  lr: number | ((round: number) => number)
  /** SGD momentum (default 0). */
  momentum?: number
  /** L2 weight decay (default 0). */
  weightDecay?: number
}

/** DP-FedAvg: client-level clipping and Gaussian noise on the sum, with an RDP accountant. */
export interface SimulationDp {
  /** L2 clip norm C of each client update. */
  clipNorm: number
  /** z = σ/C; the sum gets N(0, (zC)²) noise per coordinate. */
  noiseMultiplier: number
  /** δ at which ε is reported (default 1e-5). */
  delta?: number
}

/**
 * Byzantine clients: `fraction` of all clients (chosen by seed) are attackers, and client
 * sampling is stratified so that every round has `⌊fraction · perRound⌋` of them. Give an attack
 * spec (`{ name: 'sign-flip', params: { scale: 4 }, fraction: 0.2 }`) or an instance (`{ attack, fraction }`).
 */
export type SimulationAttack = (AttackSpec | { attack: Attack }) & { fraction: number }

/** Options of {@link runSimulation}. */
export interface SimulationOptions {
  /** The training set (partitioned across clients) and the test set (the global model's accuracy). */
  dataset: { train: Dataset; test: Dataset }
  /** The model to train: an architecture (initialized from `seed`) or a model to start from. */
  model: Architecture | Model
  /** Number of simulated clients. */
  clients: number
  /** Federated rounds. */
  rounds: number
  /** Fraction of the clients sampled each round (default 0.1): `max(1, round(fraction · clients))` per round. */
  fraction?: number
  /** How the training set is split (default `{ kind: 'iid' }`). */
  partition?: SimulationPartition
  /** Server strategy (default `fedavg`). A spec is built with the aggregator; an instance must already contain it. */
  strategy?: StrategySpec | Strategy
  /** Robust aggregator of the client deltas (default: the strategy's weighted mean). */
  aggregator?: AggregatorSpec | Aggregator
  /**
   * Update compression, one codec per client (its error-feedback memory persists across the
   * rounds it takes part in). A spec (`int8`/`int4`/`top-k` get a per-client stochastic-rounding
   * seed unless one is given) or a factory. Default: dense float32 (nothing to encode).
   */
  codec?: CodecSpec | ((client: number) => UpdateCodec)
  /** DP-FedAvg (exclusive with a robust aggregator other than `mean`). */
  dp?: SimulationDp
  /** Byzantine clients. */
  attack?: SimulationAttack
  /** Local training of every client. */
  local: LocalTrainingSpec
  /** Seed of everything random: initialization, partition, sampling, shuffles, attacks, codecs, DP noise (default 0). */
  seed?: number
  /** Worker threads (default `min(2, os.availableParallelism())`; 0: in-process). Results do not depend on it. */
  workers?: number
  /** Evaluate the global model every this many rounds (default 1; the last round always). */
  evaluateEvery?: number
  /** Accuracy targets for {@link SimulationResult.roundsToAccuracy} (default 0.5 … 0.95). */
  targets?: readonly number[]
  /** Called after every round with its log. */
  onRound?: (log: RoundLog) => void
  /** Print the round log: `true` for stderr, or a stream; a TTY also gets a progress bar (default false). */
  progress?: boolean | ProgressStream
  /** Label of the progress bar (default `'simulation'`). */
  label?: string
  /** Registers the global model of every round under this name in the registry component. */
  registryName?: string
  /** Rejects with the signal's reason, terminating the workers. */
  signal?: AbortSignal
}

/** Collaborators {@link runSimulation} can be given instead of creating its own. */
export interface SimulationComponents {
  /**
   * A started pool over the same `dataset` (reuse it across simulations to skip the worker
   * start-up); it is left running. Default: a pool created and stopped by the simulation.
   */
  pool?: TrainingPool
  /** Where each round's global model is registered (as a new version, with lineage) and its state shown. */
  registry?: ModelRegistry
}

/** What happened in one round. */
export interface RoundLog {
  /** 1-based round. */
  readonly round: number
  /** Clients sampled this round, ascending. */
  readonly clients: readonly number[]
  /** How many of them were attackers. */
  readonly attackers: number
  /** Test accuracy of the global model after the round (undefined when not evaluated this round). */
  readonly accuracy: number | undefined
  /** Test loss (mean cross-entropy) after the round, when evaluated. */
  readonly testLoss: number | undefined
  /** Mean local training loss of the sampled clients' last epoch (sample-weighted). */
  readonly trainLoss: number
  /** Bytes the sampled clients uploaded with the codec. */
  readonly bytesUp: number
  /** Bytes the same updates take as dense float32 (the `fp32` encoding). */
  readonly denseBytesUp: number
  /** Bytes of the global model sent to the sampled clients (dense float32). */
  readonly bytesDown: number
  /** ε spent so far at the configured δ (with `dp`). */
  readonly epsilon: number | undefined
  /** Local SGD steps taken this round, all clients. */
  readonly localSteps: number
  /** Time since the simulation started. */
  readonly elapsedMs: number
}

/** The first round reaching an accuracy. */
export interface RoundsToAccuracy {
  readonly target: number
  /** 1-based round, 0 for the initial model, undefined if never reached. */
  readonly round: number | undefined
}

/** What {@link runSimulation} returns. */
export interface SimulationResult {
  /** The final global model. */
  readonly model: Model
  /** Test accuracy and loss of the initial model (round 0). */
  readonly initial: { readonly accuracy: number; readonly loss: number }
  /** One entry per round. */
  readonly history: readonly RoundLog[]
  /** Test accuracy after the last round. */
  readonly finalAccuracy: number
  /** Best test accuracy over the evaluated rounds. */
  readonly bestAccuracy: number
  /** The curve: for each target, the first round at which the accuracy reached it. */
  readonly roundsToAccuracy: readonly RoundsToAccuracy[]
  /** The attacking clients (empty without `attack`). */
  readonly attackers: readonly number[]
  /** Rows per client. */
  readonly clientSizes: readonly number[]
  /** Totals over all rounds. */
  readonly totals: {
    readonly bytesUp: number
    readonly denseBytesUp: number
    readonly bytesDown: number
    /** `denseBytesUp / bytesUp`. */
    readonly compressionRatio: number
    readonly localSteps: number
    readonly wallMs: number
  }
  /** With `dp`: the privacy spent. */
  readonly privacy: { readonly epsilon: number; readonly delta: number; readonly order: number } | undefined
}
