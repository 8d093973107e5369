/** Alert rules, validated with zod: threshold, rate of change, absence, anomaly. */
import { z } from 'zod'
import { InvalidRuleError } from '../errors.js'

const name = z.string().regex(/^[A-Za-z0-9_:.-]{1,100}$/, 'letters, digits, _ : . - (1-100)')
const metric = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/, 'a Prometheus metric name')
const labels = z
  .record(z.string().max(100), z.string().max(200))
  .refine((l) => Object.keys(l).length <= 16, 'at most 16 labels')
const op = z.enum(['>', '>=', '<', '<='])
const ms = z
  .number()
  .int()
  .min(0)
  .max(30 * 24 * 3_600_000)
const common = {
  name,
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  /** The condition must hold this long before the alert fires. */
  forMs: ms.default(0),
  summary: z.string().max(500).optional(),
}

const crossingFields = { op, value: z.number().finite(), clear: z.number().finite().optional() }
/** Hysteresis: the clear level must be on the calm side of the firing level. */
function clearOnCalmSide(r: { op: string; value: number; clear?: number | undefined }, ctx: z.RefinementCtx): void {
  if (r.clear === undefined) return
  const ok = r.op === '>' || r.op === '>=' ? r.clear <= r.value : r.clear >= r.value
  if (!ok)
    ctx.addIssue({ code: 'custom', path: ['clear'], message: `clear must be on the other side of value for ${r.op}` })
}

export const ThresholdRuleSchema = z
  .object({ ...common, ...crossingFields, kind: z.literal('threshold'), metric, labels: labels.optional() })
  .strict()
  .superRefine(clearOnCalmSide)
export const RateRuleSchema = z
  .object({
    ...common,
    ...crossingFields,
    kind: z.literal('rate'),
    metric,
    labels: labels.optional(),
    /** The change per second over this window is compared with `value`. */
    windowMs: ms.refine((x) => x >= 1000, 'at least 1000 ms'),
  })
  .strict()
  .superRefine(clearOnCalmSide)
export const AbsenceRuleSchema = z
  .object({
    ...common,
    kind: z.literal('absence'),
    metric,
    labels: labels.optional(),
    afterMs: ms.refine((x) => x >= 1000, 'at least 1000 ms'),
  })
  .strict()
export const AnomalyRuleSchema = z
  .object({
    ...common,
    kind: z.literal('anomaly'),
    /** Anomaly kinds this rule takes (all when omitted). */
    anomalies: z.array(z.string().max(100)).max(50).optional(),
    /** Resolved this long after the last anomaly, unless the source resolves it first. Default 5 min. */
    resolveAfterMs: ms.default(300_000),
  })
  .strict()

/** One alert rule. */
export const AlertRuleSchema = z.union([ThresholdRuleSchema, RateRuleSchema, AbsenceRuleSchema, AnomalyRuleSchema])
export type AlertRule = z.output<typeof AlertRuleSchema>
export type AlertRuleInput = z.input<typeof AlertRuleSchema>

/**
 * Validate rules (unique names, at most 500).
 *
 * @throws {InvalidRuleError} listing every problem
 */
export function parseRules(input: unknown): AlertRule[] {
  const parsed = z.array(AlertRuleSchema).max(500).safeParse(input)
  if (!parsed.success) {
    throw new InvalidRuleError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`))
  }
  const seen = new Set<string>()
  const dup = parsed.data.filter((r) => {
    if (seen.has(r.name)) return true
    seen.add(r.name)
    return false
  })
  if (dup.length > 0) throw new InvalidRuleError(dup.map((r) => `${r.name}: a rule name is used twice`))
  return parsed.data
}
