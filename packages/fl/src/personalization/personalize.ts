/** Local fine-tuning of a global model (full, or the last layer only). @module */
import type { Dataset } from '../data/dataset.js'
import { ConfigError } from '../errors.js'
import { type Architecture, cnn, countParameters, denseLayers, mlp, softmaxRegression } from '../models/architecture.js'
import { assertParams, type Model } from '../models/model.js'
import { createRng } from '../random.js'
import type { LocalTrainer } from '../train/trainer.js'

/** What to fine-tune: every parameter, or only the output layer (the rest frozen). */
export type FineTuneMode = 'full' | 'last-layer'

/** Options of {@link personalize}. */
export interface PersonalizeOptions {
  /** Local epochs (a few: 1–10). */
  epochs: number
  batchSize: number
  lr: number
  momentum?: number
  weightDecay?: number
  /**
   * `'full'` (default) trains every parameter; `'last-layer'` freezes everything but the output
   * layer — cheaper, and safer with very little data. Falls back to `'full'` where the model
   * has no separate feature layers (softmax regression, a CNN without hidden dense layers).
   */
  mode?: FineTuneMode
  /**
   * Full mode only: a proximal pull `proxMu·(w − w_global)` towards the global model (the
   * Ditto / FedProx-style regularizer), so a tiny local set does not wipe out what the
   * federation learned. Default 0.
   */
  proxMu?: number
  /** Seed of the local shuffles (default 0). */
  seed?: number
  signal?: AbortSignal
}

/** What {@link personalize} returns. */
export interface PersonalizeResult {
  /** The personalized model (same architecture; the input model is untouched). */
  readonly model: Model
  /** What was actually trained (`'full'` when the last-layer mode was not possible). */
  readonly mode: FineTuneMode
  /** Mean training loss of each local epoch. */
  readonly epochLosses: readonly number[]
  readonly steps: number
}

/** Collaborators of {@link personalize}. */
export interface PersonalizeComponents {
  trainer: LocalTrainer
}

/**
 * The split of a model into frozen feature layers and its output layer: `features` is the
 * architecture whose outputs are the pre-activations of the last hidden layer (its parameters
 * are the first `headOffset` of the model's), `head` a softmax regression on those features
 * (the remaining parameters). Undefined when the model has no hidden dense layer to cut at.
 *
 * @example
 * ```ts
 * import { lastLayerSplit, mlp } from '@vain/fl'
 * lastLayerSplit(mlp(784, [128], 10)) // { features: softmax-regression 784→128, head: 128→10, headOffset: 100480 }
 * ```
 */
export function lastLayerSplit(
  arch: Architecture,
): { features: Architecture; head: Architecture; headOffset: number } | undefined {
  const dense = denseLayers(arch)
  if (dense.length < 2) return undefined
  const out = dense.at(-1)!
  const hidden = out.inputSize
  let features: Architecture
  if (arch.kind === 'mlp') {
    const rest = arch.hiddenSizes.slice(0, -1)
    features = rest.length === 0 ? softmaxRegression(arch.inputSize, hidden) : mlp(arch.inputSize, rest, hidden)
  } else if (arch.kind === 'cnn') {
    features = cnn(arch.inputShape, arch.convs, arch.hiddenSizes.slice(0, -1), hidden)
  } else return undefined
  const head = softmaxRegression(hidden, out.outputSize)
  const headOffset = countParameters(features)
  if (headOffset + countParameters(head) !== countParameters(arch)) return undefined
  return { features, head, headOffset }
}

/**
 * Personalizes a global model to one client's data by local fine-tuning: a few epochs of SGD
 * on the client's own rows, through the same onnxruntime trainer as federated training. With
 * `mode: 'last-layer'` every layer but the output layer is frozen: the frozen layers' ReLU
 * features are computed once (an ORT inference of the truncated model) and only the output
 * layer — a softmax regression on those features — is trained, which is exactly training the
 * full model with zero gradients for the frozen part.
 *
 * Pair it with the `reptile` strategy for Reptile-style meta-learning (Nichol et al. 2018):
 * federated rounds of `reptile` (each client takes a few local SGD steps from the global model
 * — the inner loop — and the server moves `ε` of the way towards the clients' results — the
 * outer loop) learn an initialization that adapts quickly; `personalize` is the adaptation.
 *
 * @example
 * ```ts
 * import { createLocalTrainer, personalize } from '@vain/fl'
 *
 * const trainer = createLocalTrainer()
 * const { model: mine } = await personalize(global, myData, { epochs: 5, batchSize: 16, lr: 0.05, mode: 'last-layer' }, { trainer })
 * console.log((await trainer.evaluate(mine, myHeldOut)).accuracy)
 * ```
 */
export async function personalize(
  model: Model,
  dataset: Dataset,
  options: PersonalizeOptions,
  components: PersonalizeComponents,
): Promise<PersonalizeResult> {
  const { trainer } = components
  assertParams(model.architecture, model.params)
  const mode = options.mode ?? 'full'
  if (mode !== 'full' && mode !== 'last-layer')
    throw new ConfigError(`mode must be 'full' or 'last-layer', got ${mode}`)
  const base = {
    epochs: options.epochs,
    batchSize: options.batchSize,
    lr: options.lr,
    momentum: options.momentum ?? 0,
    weightDecay: options.weightDecay ?? 0,
    seed: options.seed ?? 0,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  }
  const split = mode === 'last-layer' ? lastLayerSplit(model.architecture) : undefined
  if (split === undefined) {
    const proxMu = options.proxMu ?? 0
    const r = await trainer.train(model, dataset, {
      ...base,
      ...(proxMu > 0 ? { proxMu, globalParams: model.params } : {}),
    })
    return { model: r.model, mode: 'full', epochLosses: r.epochLosses, steps: r.steps }
  }
  const featureModel: Model = { architecture: split.features, params: model.params.subarray(0, split.headOffset) }
  const z = await trainer.predict(
    featureModel,
    dataset.x,
    options.signal === undefined ? {} : { signal: options.signal },
  )
  for (let j = 0; j < z.length; j++) if (z[j]! < 0) z[j] = 0 // ReLU of the last hidden layer
  const hidden = denseLayers(split.head)[0]!.inputSize
  const features: Dataset = {
    x: z,
    labels: dataset.labels,
    size: dataset.size,
    features: hidden,
    numClasses: dataset.numClasses,
  }
  const head: Model = { architecture: split.head, params: model.params.slice(split.headOffset) }
  const r = await trainer.train(head, features, base)
  const params = model.params.slice()
  params.set(r.model.params, split.headOffset)
  return {
    model: { architecture: model.architecture, params },
    mode: 'last-layer',
    epochLosses: r.epochLosses,
    steps: r.steps,
  }
}

/** Options of {@link splitLocalData}. */
export interface SplitLocalDataOptions {
  /** Fraction of the rows held out for evaluation (default 0.2; at least one row each side). */
  testFraction?: number
  /** Seed of the shuffle (default 0). */
  seed?: number
}

/**
 * Splits one client's rows into a local training set and a held-out local test set (shuffled,
 * seeded), to measure personalization where it matters: on the client's own distribution.
 *
 * @example
 * ```ts
 * import { partitionDataset, splitLocalData } from '@vain/fl'
 * const parts = partitionDataset(train, { kind: 'shards', clients: 50, seed: 1 })
 * const { train: mine, test: myHeldOut } = splitLocalData(train, parts[3]!, { testFraction: 0.25, seed: 3 })
 * ```
 */
export function splitLocalData(
  dataset: Dataset,
  rows: ArrayLike<number>,
  options: SplitLocalDataOptions = {},
): { train: Dataset; test: Dataset } {
  const f = options.testFraction ?? 0.2
  if (!(f > 0 && f < 1)) throw new ConfigError(`testFraction must be in (0, 1), got ${f}`)
  if (rows.length < 2) throw new ConfigError(`need at least 2 rows to split, got ${rows.length}`)
  const order = Int32Array.from(rows)
  createRng(options.seed ?? 0).shuffle(order)
  const nTest = Math.min(order.length - 1, Math.max(1, Math.round(f * order.length)))
  const take = (idx: Int32Array): Dataset => {
    const F = dataset.features
    const x = new Float32Array(idx.length * F)
    const labels = new Int32Array(idx.length)
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!
      if (!(i >= 0 && i < dataset.size)) throw new ConfigError(`row ${i} is outside the dataset (${dataset.size} rows)`)
      x.set(dataset.x.subarray(i * F, (i + 1) * F), k * F)
      labels[k] = dataset.labels[i]!
    }
    return { x, labels, size: idx.length, features: F, numClasses: dataset.numClasses }
  }
  return { train: take(order.subarray(nTest)), test: take(order.subarray(0, nTest)) }
}

/** One client of {@link evaluatePersonalization}. */
export interface PersonalizationClient {
  /** Rows to fine-tune on. */
  train: Dataset
  /** The client's held-out rows. */
  test: Dataset
}

/** What {@link evaluatePersonalization} returns. */
export interface PersonalizationReport {
  /** Per client: accuracy of the global model and of the personalized one on its held-out rows. */
  readonly clients: readonly { readonly before: number; readonly after: number }[]
  /** Means over the clients (unweighted). */
  readonly meanBefore: number
  readonly meanAfter: number
  readonly mode: FineTuneMode
}

/**
 * Fine-tunes `model` for each client and reports each client's held-out accuracy before and
 * after: the number that tells whether personalization (or a meta-learned initialization)
 * pays off.
 *
 * @example
 * ```ts
 * import { evaluatePersonalization } from '@vain/fl'
 * const report = await evaluatePersonalization(global, clients, { epochs: 5, batchSize: 16, lr: 0.05 }, { trainer })
 * console.log(`${(100 * report.meanBefore).toFixed(1)} % → ${(100 * report.meanAfter).toFixed(1)} %`)
 * ```
 */
export async function evaluatePersonalization(
  model: Model,
  clients: readonly PersonalizationClient[],
  options: PersonalizeOptions,
  components: PersonalizeComponents,
): Promise<PersonalizationReport> {
  const { trainer } = components
  const out: { before: number; after: number }[] = []
  let mode: FineTuneMode = options.mode ?? 'full'
  for (const [i, c] of clients.entries()) {
    options.signal?.throwIfAborted()
    const before = (await trainer.evaluate(model, c.test)).accuracy
    const p = await personalize(model, c.train, { ...options, seed: (options.seed ?? 0) + i }, components)
    mode = p.mode
    const after = (await trainer.evaluate(p.model, c.test)).accuracy
    out.push({ before, after })
  }
  const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length)
  return {
    clients: out,
    meanBefore: mean(out.map((c) => c.before)),
    meanAfter: mean(out.map((c) => c.after)),
    mode,
  }
}
