/**
 * @packageDocumentation
 *
 * `@vain/fl` — the federated-learning core of vAIn: models (softmax regression, MLPs, small CNNs) as a
 * named architecture plus flat float32 parameters, a canonical binary format with a sha2-256
 * content hash, **local training on onnxruntime-node** (the whole SGD step — forward, backward,
 * momentum, weight decay, FedProx — is one ONNX graph built in TypeScript), evaluation, ONNX
 * export/import, a float64 reference of every step, MNIST and synthetic datasets, and seeded
 * federated partitioners (IID, Dirichlet label skew, shards, quantity skew); strategies, robust
 * aggregators, update codecs, DP and secure aggregation, attack models; `runSimulation` (many
 * clients on worker threads), a model registry with lineage and observable state, and
 * personalization (local fine-tuning, Reptile meta-learning).
 *
 * @example
 * ```ts
 * import { createLocalTrainer, createModel, loadMnist, mlp } from '@vain/fl'
 *
 * const { train, test } = await loadMnist() // fixed 8,000 / 2,000 split
 * const trainer = createLocalTrainer()
 * const model = createModel(mlp(784, [128], 10), { seed: 1 })
 * const result = await trainer.train(model, train, { epochs: 3, batchSize: 32, lr: 0.05, momentum: 0.9, seed: 1 })
 * const { accuracy } = await trainer.evaluate(result.model, test)
 * console.log(`accuracy ${(100 * accuracy).toFixed(1)} %`) // ≈ 94 %
 * await trainer.close()
 * ```
 */
export * from './aggregators/index.js'
export * from './attacks/index.js'
export * from './codecs/index.js'
export * from './data/index.js'
export * from './errors.js'
export * from './models/index.js'
export * from './onnx/index.js'
export * from './personalization/index.js'
export * from './privacy/index.js'
export * from './random.js'
export * from './registry/index.js'
export * from './round/index.js'
export * from './simulation/index.js'
export * from './strategies/index.js'
export * from './train/index.js'
