/**
 * A node's summary for the cluster view: a bounded record of named figures, what
 * `/vain/metrics` (see `@vain/metrics/vain-net`) carries between peers.
 */
import { z } from 'zod'
import { InvalidSummaryError } from './errors.js'
import type { MetricSample } from './registry/index.js'

/** Figures a summary may hold. */
export const MAX_SUMMARY_FIGURES = 256

/** A node's summary: `figures` maps a sample name (`metric` or `metric{k="v"}`) to its value. */
export const NodeSummarySchema = z
  .object({
    v: z.literal(1),
    /** ms since epoch, the sender's clock. */
    at: z.number().int().nonnegative(),
    figures: z
      .record(z.string().min(1).max(200), z.number())
      .refine((f) => Object.keys(f).length <= MAX_SUMMARY_FIGURES, `at most ${MAX_SUMMARY_FIGURES} figures`),
  })
  .strict()
export type NodeSummary = z.output<typeof NodeSummarySchema>

/**
 * Validate a summary someone sent.
 *
 * @throws {InvalidSummaryError} for anything else
 */
export function parseSummary(input: unknown): NodeSummary {
  const r = NodeSummarySchema.safeParse(input)
  if (!r.success)
    throw new InvalidSummaryError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))
  return r.data
}

/** The metrics worth a peer's look (vain_* gauges and counters), as a summary. */
export function summarize(samples: readonly MetricSample[], at = Date.now()): NodeSummary {
  const figures: Record<string, number> = {}
  let n = 0
  for (const s of samples) {
    if (!s.name.startsWith('vain_') || s.name.endsWith('_bucket') || !Number.isFinite(s.value)) continue
    const labels = Object.entries(s.labels)
      .sort()
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')
    const key = labels === '' ? s.name : `${s.name}{${labels}}`
    if (key.length > 200) continue
    figures[key] = s.value
    if (++n >= MAX_SUMMARY_FIGURES) break
  }
  return { v: 1, at, figures }
}
