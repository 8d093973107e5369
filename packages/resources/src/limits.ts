/**
 * The resource limits a node honours, validated with zod: how much CPU and memory its tasks may
 * take, when the host counts as busy, and what to do on battery.
 * @module
 */
import { z } from 'zod'
import { InvalidResourceConfigError, ParseError } from './errors.js'
import { problemsOf } from './validate.js'

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
}

/**
 * Parses a byte size: a non-negative integer, or a string like `"512MiB"`, `"2 GB"`, `"1.5GiB"`.
 *
 * @throws {@link ParseError} for anything else (negative, not finite, unknown unit, over 2^53).
 */
export function parseBytes(input: number | string): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new ParseError(`${input} is not a byte count`)
    return input
  }
  const m = /^\s*(\d{1,15}(?:\.\d{1,6})?)\s*([kmgt]?i?b)?\s*$/i.exec(input)
  if (m === null) throw new ParseError(`${JSON.stringify(input.slice(0, 40))} is not a size (e.g. "512MiB", "2GB")`)
  const unit = (m[2] ?? 'b').toLowerCase()
  const factor = UNITS[unit]
  if (factor === undefined) throw new ParseError(`unknown unit ${JSON.stringify(m[2])}`)
  const bytes = Math.round(Number(m[1]) * factor)
  if (!Number.isSafeInteger(bytes)) throw new ParseError(`${input} is too large`)
  return bytes
}

const bytes = z.union([z.number(), z.string().max(64)]).transform((v, ctx) => {
  try {
    const n = parseBytes(v)
    if (n < 16 * 1024 * 1024) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 16 MiB' })
      return z.NEVER
    }
    return n
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
    return z.NEVER
  }
})

const share = z.number().gt(0).max(1)

/**
 * Limits of a node (the `resources` section of its config).
 *
 * - `maxCpu` — share of the host's cores that scheduled tasks may claim together (0–1, default 1).
 * - `maxMemory` — this process's resident memory above which tasks pause and none start (bytes or `"2GiB"`; default none).
 * - `onBattery` — `"low-power"` (default: the low-power profile, training only while the host is idle),
 *   `"pause"` (no training on battery) or `"run"` (ignore the battery).
 * - `busyCpu` / `resumeCpu` — other processes' share of the host above which tasks pause, and at or below which they resume
 *   (default 0.75 / 0.5; `busyCpu: 1` never pauses for CPU).
 * - `minFreeMemory` — share of host memory that must stay available (default 0.1).
 * - `idleCpu` — other processes' share below which the host counts as idle (default 0.25).
 * - `profile` — `"auto"` (low-power on battery, default), `"normal"` or `"low-power"` (overrides).
 */
export const ResourceLimitsSchema = z
  .strictObject({
    maxCpu: share.default(1),
    maxMemory: bytes.optional(),
    onBattery: z.enum(['run', 'low-power', 'pause']).default('low-power'),
    busyCpu: share.default(0.75),
    resumeCpu: share.default(0.5),
    minFreeMemory: z.number().min(0).max(0.9).default(0.1),
    idleCpu: share.default(0.25),
    profile: z.enum(['auto', 'normal', 'low-power']).default('auto'),
  })
  .refine((l) => l.resumeCpu < l.busyCpu, {
    message: 'resumeCpu must be below busyCpu (hysteresis)',
    path: ['resumeCpu'],
  })

/** Validated limits (defaults filled in). */
export type ResourceLimits = z.output<typeof ResourceLimitsSchema>
/** Limits as written in a config. */
export type ResourceLimitsInput = z.input<typeof ResourceLimitsSchema>

/**
 * Validates limits.
 *
 * @throws {@link InvalidResourceConfigError} naming every problem.
 * @example
 * ```ts
 * parseResourceLimits({ maxCpu: 0.5, maxMemory: '2GiB', onBattery: 'pause' })
 * ```
 */
export function parseResourceLimits(input: unknown = {}): ResourceLimits {
  const result = ResourceLimitsSchema.safeParse(input ?? {})
  if (!result.success) {
    const problems = problemsOf(result.error)
    throw new InvalidResourceConfigError(
      `invalid resource limits:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      problems,
    )
  }
  return result.data
}
