/**
 * Personalization: local fine-tuning of a global model on a client's own data (every layer,
 * or only the output layer with the rest frozen), and how to measure it. With the `reptile`
 * strategy it makes the Reptile meta-learning loop: federated rounds of `reptile` learn an
 * initialization (inner loop: each client's local SGD steps; outer loop: the server moves `ε`
 * towards the clients' results), and {@link personalize} adapts it to each client.
 *
 * @example
 * ```ts
 * import { createLocalTrainer, personalize, runSimulation } from '@vain/fl'
 *
 * // meta-train: Reptile over the clients (uniform weights: every client is one task)
 * const { model: init } = await runSimulation({
 *   dataset, model: mlp(784, [128], 10), clients: 50, rounds: 30, fraction: 0.2,
 *   partition: { kind: 'shards', classesPerClient: 2 },
 *   strategy: { name: 'reptile', params: { epsilon: 0.5 } },
 *   local: { epochs: 2, batchSize: 16, lr: 0.05 },
 * })
 * // adapt: a few local epochs on one client's data
 * const trainer = createLocalTrainer()
 * const { model: mine } = await personalize(init, myData, { epochs: 5, batchSize: 16, lr: 0.05 }, { trainer })
 * ```
 * @module
 */
export {
  evaluatePersonalization,
  type FineTuneMode,
  lastLayerSplit,
  type PersonalizationClient,
  type PersonalizationReport,
  type PersonalizeComponents,
  type PersonalizeOptions,
  type PersonalizeResult,
  personalize,
  type SplitLocalDataOptions,
  splitLocalData,
} from './personalize.js'
