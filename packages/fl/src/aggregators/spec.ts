/** Aggregators by name, from a validated spec (job specs, config files). @module */
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { centeredClipping, normBounding } from './clipping.js'
import { bulyan, krum, multiKrum } from './krum.js'
import { mean } from './mean.js'
import { median, trimmedMean } from './median.js'
import type { Aggregator } from './types.js'

const f = z.number().int().min(0).max(1_000_000)
const schemas = {
  mean: z.strictObject({}),
  median: z.strictObject({}),
  'trimmed-mean': z.strictObject({
    beta: z.number().min(0).lt(0.5).optional(),
    trim: z.number().int().min(0).optional(),
  }),
  krum: z.strictObject({ f }),
  'multi-krum': z.strictObject({ f, m: z.number().int().min(1).optional() }),
  bulyan: z.strictObject({ f }),
  'centered-clipping': z.strictObject({
    tau: z.number().positive(),
    iterations: z.number().int().min(1).max(1000).optional(),
  }),
  'norm-bounding': z.strictObject({ maxNorm: z.number().positive() }),
} as const

/** Names {@link createAggregator} knows. */
export type AggregatorName = keyof typeof schemas

/** Names {@link createAggregator} knows, in a stable order. */
export const AGGREGATOR_NAMES = Object.keys(schemas) as AggregatorName[]

/** A named aggregator with its parameters, e.g. `{ name: 'trimmed-mean', params: { beta: 0.1 } }`. */
export interface AggregatorSpec {
  name: string
  params?: Record<string, unknown>
}

function issues(err: z.ZodError): string[] {
  return err.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`)
}

/**
 * Builds an aggregator from a spec, validating the parameters with zod. Unknown names and bad
 * parameters throw `ConfigError` listing every problem.
 *
 * | name | params |
 * |---|---|
 * | `mean` | — (uses weights) |
 * | `median` | — |
 * | `trimmed-mean` | `beta` (each end, default 0.1) or `trim` |
 * | `krum` | `f` |
 * | `multi-krum` | `f`, `m` (default n − f) |
 * | `bulyan` | `f` |
 * | `centered-clipping` | `tau`, `iterations` (default 1) |
 * | `norm-bounding` | `maxNorm` |
 *
 * @example
 * ```ts
 * import { createAggregator } from '@vain/fl'
 * const agg = createAggregator({ name: 'bulyan', params: { f: 2 } })
 * ```
 */
export function createAggregator(spec: AggregatorSpec): Aggregator {
  const name = spec.name
  if (!Object.hasOwn(schemas, name)) {
    throw new ConfigError(`unknown aggregator '${name}' (known: ${AGGREGATOR_NAMES.join(', ')})`)
  }
  const parsed = schemas[name as AggregatorName].safeParse(spec.params ?? {})
  if (!parsed.success) throw new ConfigError(`invalid parameters for aggregator '${name}'`, issues(parsed.error))
  const p = parsed.data as Record<string, number | undefined>
  switch (name as AggregatorName) {
    case 'mean':
      return mean()
    case 'median':
      return median()
    case 'trimmed-mean':
      return trimmedMean({
        ...(p.beta !== undefined ? { beta: p.beta } : {}),
        ...(p.trim !== undefined ? { trim: p.trim } : {}),
      })
    case 'krum':
      return krum({ f: p.f! })
    case 'multi-krum':
      return multiKrum({ f: p.f!, ...(p.m !== undefined ? { m: p.m } : {}) })
    case 'bulyan':
      return bulyan({ f: p.f! })
    case 'centered-clipping':
      return centeredClipping({ tau: p.tau!, ...(p.iterations !== undefined ? { iterations: p.iterations } : {}) })
    case 'norm-bounding':
      return normBounding({ maxNorm: p.maxNorm! })
  }
}
