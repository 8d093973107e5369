/** Attacks by name, from a validated spec (experiment configs). @module */
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import {
  type Attack,
  gaussianAttack,
  innerProductManipulation,
  labelFlip,
  littleIsEnough,
  signFlip,
} from './attacks.js'

const schemas = {
  'sign-flip': z.strictObject({ scale: z.number().finite().optional() }),
  gaussian: z.strictObject({
    std: z.number().min(0).optional(),
    mode: z.enum(['replace', 'add']).optional(),
    seed: z.number().int().optional(),
  }),
  'label-flip': z.strictObject({ mapping: z.record(z.string().regex(/^\d+$/), z.number().int().min(0)).optional() }),
  'little-is-enough': z.strictObject({ z: z.number().finite().optional() }),
  'inner-product': z.strictObject({ epsilon: z.number().min(0).optional() }),
} as const

/** Names {@link createAttack} knows. */
export type AttackName = keyof typeof schemas

/** Names {@link createAttack} knows, in a stable order. */
export const ATTACK_NAMES = Object.keys(schemas) as AttackName[]

/** A named attack with its parameters, e.g. `{ name: 'inner-product', params: { epsilon: 0.1 } }`. */
export interface AttackSpec {
  name: string
  params?: Record<string, unknown>
}

/**
 * Builds an attack from a spec (zod-validated; `ConfigError` otherwise): `sign-flip` (`scale`),
 * `gaussian` (`std`, `mode`, `seed`), `label-flip` (`mapping`), `little-is-enough` (`z`),
 * `inner-product` (`epsilon`).
 *
 * @example
 * ```ts
 * import { createAttack } from '@vain/fl'
 * const attack = createAttack({ name: 'little-is-enough' })
 * ```
 */
export function createAttack(spec: AttackSpec): Attack {
  const name = spec.name
  if (!Object.hasOwn(schemas, name))
    throw new ConfigError(`unknown attack '${name}' (known: ${ATTACK_NAMES.join(', ')})`)
  const parsed = schemas[name as AttackName].safeParse(spec.params ?? {})
  if (!parsed.success) {
    throw new ConfigError(
      `invalid parameters for attack '${name}'`,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`),
    )
  }
  const p = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as Record<string, any>
  switch (name as AttackName) {
    case 'sign-flip':
      return signFlip(p)
    case 'gaussian':
      return gaussianAttack(p)
    case 'label-flip':
      return labelFlip(
        p.mapping === undefined
          ? {}
          : {
              mapping: Object.fromEntries(
                Object.entries(p.mapping as Record<string, number>).map(([k, v]) => [Number(k), v]),
              ),
            },
      )
    case 'little-is-enough':
      return littleIsEnough(p)
    case 'inner-product':
      return innerProductManipulation(p)
  }
}
