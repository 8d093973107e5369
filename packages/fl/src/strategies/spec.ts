/** Strategies by name, from a validated spec (job specs, config files). @module */
import { z } from 'zod'
import type { Aggregator } from '../aggregators/types.js'
import { ConfigError } from '../errors.js'
import { fedAdagrad, fedAdam, fedYogi } from './adaptive.js'
import type { CombineOptions } from './combine.js'
import { fedAvg, fedAvgM, fedProx, reptile } from './fedavg.js'
import { fedBuff } from './fedbuff.js'
import { polynomialStaleness } from './staleness.js'
import type { Strategy } from './types.js'

const lr = z.number().positive().max(1e6)
const unit = z.number().min(0).lt(1)
const common = {
  weighting: z.enum(['samples', 'uniform']).optional(),
  /** Exponent a of the staleness weighting (1 + τ)^-a applied to every update; default none. */
  stalenessExponent: z.number().min(0).max(10).optional(),
}
const adaptiveSchema = z.strictObject({
  ...common,
  eta: lr.optional(),
  beta1: unit.optional(),
  beta2: unit.optional(),
  tau: z.number().positive().optional(),
})
const schemas = {
  fedavg: z.strictObject({ ...common, serverLr: lr.optional() }),
  fedprox: z.strictObject({ ...common, mu: z.number().min(0).max(1e6), serverLr: lr.optional() }),
  fedavgm: z.strictObject({ ...common, serverLr: lr.optional(), momentum: unit.optional() }),
  fedadam: adaptiveSchema,
  fedyogi: adaptiveSchema,
  fedadagrad: adaptiveSchema,
  fedbuff: z.strictObject({
    bufferSize: z.number().int().min(1).max(1_000_000).optional(),
    serverLr: lr.optional(),
    stalenessExponent: z.number().min(0).max(10).optional(),
  }),
  reptile: z.strictObject({ ...common, epsilon: lr.optional() }),
} as const

/** Names {@link createStrategy} knows. */
export type StrategyName = keyof typeof schemas

/** Names {@link createStrategy} knows, in a stable order. */
export const STRATEGY_NAMES = Object.keys(schemas) as StrategyName[]

/** A named strategy with its parameters, e.g. `{ name: 'fedadam', params: { eta: 0.01 } }`. */
export interface StrategySpec {
  name: string
  params?: Record<string, unknown>
}

/** What {@link createStrategy} takes besides the spec. */
export interface CreateStrategyOptions {
  /** Robust aggregator for the client deltas (ignored by `fedbuff`). */
  aggregator?: Aggregator
}

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never
}

/**
 * Builds a strategy from a spec, validating the parameters with zod (unknown names or bad
 * parameters throw `ConfigError`). Names: `fedavg`, `fedprox` (`mu`), `fedavgm`
 * (`serverLr`, `momentum`), `fedadam` / `fedyogi` / `fedadagrad` (`eta`, `beta1`, `beta2`,
 * `tau`), `fedbuff` (`bufferSize`, `serverLr`, `stalenessExponent`), `reptile` (`epsilon`).
 * Synchronous ones also take `weighting` (`'samples'` | `'uniform'`) and `stalenessExponent`.
 *
 * @example
 * ```ts
 * import { createStrategy, median } from '@vain/fl'
 * const strategy = createStrategy({ name: 'fedyogi', params: { eta: 0.01 } }, { aggregator: median() })
 * ```
 */
export function createStrategy(spec: StrategySpec, options: CreateStrategyOptions = {}): Strategy {
  const name = spec.name
  if (!Object.hasOwn(schemas, name))
    throw new ConfigError(`unknown strategy '${name}' (known: ${STRATEGY_NAMES.join(', ')})`)
  const parsed = schemas[name as StrategyName].safeParse(spec.params ?? {})
  if (!parsed.success) {
    throw new ConfigError(
      `invalid parameters for strategy '${name}'`,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`),
    )
  }
  const { stalenessExponent, ...rest } = parsed.data as Record<string, unknown> & { stalenessExponent?: number }
  const combine: CombineOptions = defined({
    aggregator: options.aggregator,
    staleness: stalenessExponent === undefined ? undefined : polynomialStaleness(stalenessExponent),
  })
  const p = { ...defined(rest), ...combine } as Record<string, any>
  switch (name as StrategyName) {
    case 'fedavg':
      return fedAvg(p)
    case 'fedprox':
      return fedProx(p as { mu: number })
    case 'fedavgm':
      return fedAvgM(p)
    case 'fedadam':
      return fedAdam(p)
    case 'fedyogi':
      return fedYogi(p)
    case 'fedadagrad':
      return fedAdagrad(p)
    case 'fedbuff':
      return fedBuff(defined({ bufferSize: p.bufferSize, serverLr: p.serverLr, staleness: combine.staleness }))
    case 'reptile':
      return reptile(p)
  }
}
