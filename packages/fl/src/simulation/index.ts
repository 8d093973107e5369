/**
 * Federated-learning simulation in one process: many clients trained on worker threads (each
 * with its own onnxruntime trainer) while the server side applies attacks, update codecs (per
 * client, with error feedback), DP-FedAvg with an RDP accountant, a robust aggregator and a
 * strategy; a per-round log (accuracy, loss, bytes up/down, ε), a progress bar on a TTY, and the
 * rounds-to-accuracy curve. Deterministic by seed, whatever the number of workers.
 *
 * @example
 * ```ts
 * import { gaussianBlobs, mlp, runSimulation, splitDataset } from '@vain/fl'
 *
 * const dataset = splitDataset(gaussianBlobs({ samples: 2400, features: 16, numClasses: 4, seed: 1 }), 2000)
 * const result = await runSimulation({
 *   dataset, model: mlp(16, [32], 4), clients: 20, rounds: 5, fraction: 0.25,
 *   partition: { kind: 'dirichlet', alpha: 0.5 },
 *   local: { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9 },
 *   seed: 1,
 * })
 * console.log(result.finalAccuracy, result.roundsToAccuracy)
 * ```
 * @module
 */
export { TaskFailedError, WorkerCrashedError } from './errors.js'
export {
  createTrainingPool,
  defaultWorkerCount,
  type RunTaskOptions,
  type TrainingPool,
  type TrainingPoolInit,
} from './pool.js'
export { formatRound, type ProgressStream } from './progress.js'
export { deriveSeed } from './seeds.js'
export { DEFAULT_ACCURACY_TARGETS, roundsToAccuracy, runSimulation } from './simulation.js'
export type {
  EvaluateOutcome,
  EvaluateTask,
  LocalTrainingOptions,
  Outcome,
  Task,
  TrainOutcome,
  TrainTask,
} from './tasks.js'
export type {
  LocalTrainingSpec,
  RoundLog,
  RoundsToAccuracy,
  SimulationAttack,
  SimulationComponents,
  SimulationDp,
  SimulationOptions,
  SimulationPartition,
  SimulationResult,
} from './types.js'
