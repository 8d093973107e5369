/** Codecs by name, from a validated spec (job specs, config files). @module */
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { fp16, fp32, int4, int8, topK, type UpdateCodec } from './codecs.js'

const quantized = {
  blockSize: z.number().int().min(1).max(0xffffffff).optional(),
  stochastic: z.boolean().optional(),
  seed: z.number().int().optional(),
  errorFeedback: z.boolean().optional(),
}
const schemas = {
  fp32: z.strictObject({}),
  fp16: z.strictObject({ errorFeedback: z.boolean().optional() }),
  int8: z.strictObject(quantized),
  int4: z.strictObject(quantized),
  'top-k': z.strictObject({
    ...quantized,
    fraction: z.number().gt(0).max(1).optional(),
    k: z.number().int().min(1).optional(),
    values: z.enum(['fp32', 'fp16', 'int8', 'int4']).optional(),
  }),
} as const

/** Names {@link createCodec} knows. */
export type CodecName = keyof typeof schemas

/** Names {@link createCodec} knows, in a stable order. */
export const CODEC_NAMES = Object.keys(schemas) as CodecName[]

/** A named codec with its parameters, e.g. `{ name: 'top-k', params: { fraction: 0.01 } }`. */
export interface CodecSpec {
  name: string
  params?: Record<string, unknown>
}

/**
 * Builds a codec from a spec, validating the parameters with zod (`ConfigError` otherwise).
 * Names: `fp32`, `fp16` (`errorFeedback`), `int8` / `int4` (`blockSize`, `stochastic`, `seed`,
 * `errorFeedback`), `top-k` (those plus `fraction`, `k`, `values`).
 *
 * @example
 * ```ts
 * import { createCodec } from '@vain/fl'
 * const codec = createCodec({ name: 'top-k', params: { fraction: 0.001, values: 'int8', seed: 3 } })
 * ```
 */
export function createCodec(spec: CodecSpec): UpdateCodec {
  const name = spec.name
  if (!Object.hasOwn(schemas, name)) throw new ConfigError(`unknown codec '${name}' (known: ${CODEC_NAMES.join(', ')})`)
  const parsed = schemas[name as CodecName].safeParse(spec.params ?? {})
  if (!parsed.success) {
    throw new ConfigError(
      `invalid parameters for codec '${name}'`,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`),
    )
  }
  const p = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as Record<string, any>
  switch (name as CodecName) {
    case 'fp32':
      return fp32()
    case 'fp16':
      return fp16(p)
    case 'int8':
      return int8(p)
    case 'int4':
      return int4(p)
    case 'top-k':
      return topK(p)
  }
}
