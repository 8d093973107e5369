import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { createRng, type Rng } from '../random.js'
import type { Dataset } from './dataset.js'

/** One list of row indices per client. Every row of the dataset is in exactly one list; lists are sorted. */
export type Partition = Int32Array[]

const common = {
  clients: z.number().int().min(1).max(1_000_000),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
}

/**
 * zod schema of {@link PartitionOptions} (to validate experiment configs).
 *
 * @example
 * ```ts
 * PartitionOptionsSchema.parse({ kind: 'shards', clients: 100, seed: 1 })
 * ```
 */
export const PartitionOptionsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('iid'), ...common }),
  z.strictObject({
    kind: z.literal('dirichlet'),
    ...common,
    alpha: z.number().positive().finite(),
    minSamples: z.number().int().min(0).optional(),
  }),
  z.strictObject({
    kind: z.literal('shards'),
    ...common,
    classesPerClient: z.number().int().min(1).optional(),
  }),
  z.strictObject({
    kind: z.literal('quantity-skew'),
    ...common,
    beta: z.number().positive().finite().optional(),
    minSamples: z.number().int().min(0).optional(),
  }),
])

/**
 * How to split a dataset across clients:
 *
 * - `iid`: a random permutation cut into `clients` equal parts (sizes differ by at most 1).
 * - `dirichlet`: label skew (Hsu et al. 2019): for each class, proportions over clients are drawn
 *   from `Dirichlet(alpha)` and that class's rows are cut accordingly. Small `alpha` (0.1) → each
 *   client sees few classes; large `alpha` (100) → close to IID. Redrawn (up to 1,000 times)
 *   until every client has at least `minSamples` rows (default 1).
 * - `shards`: pathological non-IID (McMahan et al. 2017): every client holds
 *   `classesPerClient` (default 2) distinct classes. Classes are dealt round-robin over a
 *   random class order, so each class goes to `clients × classesPerClient / numClasses` clients
 *   (±1), and its rows are split evenly among them.
 * - `quantity-skew`: labels IID but sizes skewed: client shares drawn from `Dirichlet(beta)`
 *   (default 0.5) over clients, each client at least `minSamples` rows (default 1).
 *
 * Same dataset labels + same options (including `seed`, default 0) → the same partition.
 */
export type PartitionOptions = z.input<typeof PartitionOptionsSchema>

/**
 * Splits a dataset's rows across clients for a federated experiment (see {@link PartitionOptions}).
 * Throws {@link ConfigError} for invalid or impossible options (e.g. more clients than rows).
 *
 * @example
 * ```ts
 * const parts = partitionDataset(train, { kind: 'dirichlet', clients: 100, alpha: 0.5, seed: 7 })
 * const client0 = subset(train, parts[0]!)
 * ```
 */
export function partitionDataset(
  dataset: Pick<Dataset, 'labels' | 'numClasses'>,
  options: PartitionOptions,
): Partition {
  const parsed = PartitionOptionsSchema.safeParse(options)
  if (!parsed.success) {
    throw new ConfigError(
      'invalid partition options',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  const opts = parsed.data
  const n = dataset.labels.length
  const rng = createRng(opts.seed ?? 0)
  const minSamples = 'minSamples' in opts ? (opts.minSamples ?? 1) : 1
  if (opts.clients * minSamples > n) {
    throw new ConfigError(`cannot give ${opts.clients} clients at least ${minSamples} of ${n} rows each`)
  }
  switch (opts.kind) {
    case 'iid':
      return iid(n, opts.clients, rng)
    case 'dirichlet':
      return dirichlet(dataset, opts.clients, opts.alpha, minSamples, rng)
    case 'shards':
      return shards(dataset, opts.clients, opts.classesPerClient ?? 2, rng)
    case 'quantity-skew':
      return quantitySkew(n, opts.clients, opts.beta ?? 0.5, minSamples, rng)
  }
}

function finish(lists: number[][]): Partition {
  return lists.map((l) => Int32Array.from(l).sort())
}

function iid(n: number, clients: number, rng: Rng): Partition {
  const perm = rng.permutation(n)
  const lists: number[][] = []
  for (let c = 0; c < clients; c++) {
    lists.push(Array.from(perm.subarray(Math.floor((c * n) / clients), Math.floor(((c + 1) * n) / clients))))
  }
  return finish(lists)
}

function rowsByClass(dataset: Pick<Dataset, 'labels' | 'numClasses'>, rng: Rng): number[][] {
  const byClass: number[][] = Array.from({ length: dataset.numClasses }, () => [])
  for (let i = 0; i < dataset.labels.length; i++) byClass[dataset.labels[i]!]!.push(i)
  for (const rows of byClass) rng.shuffle(rows)
  return byClass
}

function dirichlet(
  dataset: Pick<Dataset, 'labels' | 'numClasses'>,
  clients: number,
  alpha: number,
  minSamples: number,
  rng: Rng,
): Partition {
  const byClass = rowsByClass(dataset, rng)
  for (let attempt = 0; attempt < 1000; attempt++) {
    const lists: number[][] = Array.from({ length: clients }, () => [])
    for (const rows of byClass) {
      if (rows.length === 0) continue
      const p = rng.dirichlet(alpha, clients)
      let cum = 0
      let start = 0
      for (let c = 0; c < clients; c++) {
        cum += p[c]!
        const end = c === clients - 1 ? rows.length : Math.min(rows.length, Math.round(cum * rows.length))
        for (let k = start; k < end; k++) lists[c]!.push(rows[k]!)
        start = Math.max(start, end)
      }
    }
    if (lists.every((l) => l.length >= minSamples)) return finish(lists)
  }
  throw new ConfigError(
    `Dirichlet(${alpha}) partition: no draw in 1000 gave every one of ${clients} clients at least ${minSamples} rows; lower minSamples or clients, or raise alpha`,
  )
}

function shards(
  dataset: Pick<Dataset, 'labels' | 'numClasses'>,
  clients: number,
  classesPerClient: number,
  rng: Rng,
): Partition {
  const byClass = rowsByClass(dataset, rng)
  const present = byClass.map((rows, c) => (rows.length > 0 ? c : -1)).filter((c) => c >= 0)
  const K = present.length
  if (classesPerClient > K) {
    throw new ConfigError(`classesPerClient ${classesPerClient} exceeds the ${K} classes present in the data`)
  }
  if (clients * classesPerClient < K) {
    throw new ConfigError(
      `${clients} clients × ${classesPerClient} classes cannot cover the ${K} classes: some rows would be unassigned`,
    )
  }
  rng.shuffle(present)
  const clientOrder = rng.permutation(clients)
  const holders: number[][] = Array.from({ length: dataset.numClasses }, () => [])
  for (let q = 0; q < clients; q++) {
    for (let j = 0; j < classesPerClient; j++) holders[present[(q * classesPerClient + j) % K]!]!.push(clientOrder[q]!)
  }
  const lists: number[][] = Array.from({ length: clients }, () => [])
  byClass.forEach((rows, c) => {
    const h = holders[c]!
    h.forEach((client, s) => {
      const from = Math.floor((s * rows.length) / h.length)
      const to = Math.floor(((s + 1) * rows.length) / h.length)
      for (let k = from; k < to; k++) lists[client]!.push(rows[k]!)
    })
  })
  return finish(lists)
}

function quantitySkew(n: number, clients: number, beta: number, minSamples: number, rng: Rng): Partition {
  const share = rng.dirichlet(beta, clients)
  const rest = n - clients * minSamples
  const sizes = new Array<number>(clients)
  const remainders: { c: number; r: number }[] = []
  let given = 0
  for (let c = 0; c < clients; c++) {
    const exact = share[c]! * rest
    sizes[c] = minSamples + Math.floor(exact)
    given += Math.floor(exact)
    remainders.push({ c, r: exact - Math.floor(exact) })
  }
  // largest remainder: hand out what flooring left over (ties by client index: deterministic)
  remainders.sort((a, b) => b.r - a.r || a.c - b.c)
  for (let k = 0; k < rest - given; k++) sizes[remainders[k % clients]!.c]!++
  const perm = rng.permutation(n)
  const lists: number[][] = []
  let start = 0
  for (let c = 0; c < clients; c++) {
    lists.push(Array.from(perm.subarray(start, start + sizes[c]!)))
    start += sizes[c]!
  }
  return finish(lists)
}
