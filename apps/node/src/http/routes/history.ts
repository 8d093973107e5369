/**
 * The node's metric history (`GET /api/metrics/history`): the series its time-series store keeps
 * across restarts (`@vain/metrics`, recorded every 10 s), as raw points or 1-minute/1-hour rollups.
 * @module
 */
import type { Labels, Point, RollupPoint, SeriesHandle } from '@vain/metrics'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import type { ApiApp, ApiParts, RouteOptions } from '../parts.js'
import { errors } from '../schemas.js'

/** What the route reads: the node's store (`TimeSeriesStore` of @vain/metrics). */
export interface HistoryPart {
  list(name?: string): SeriesHandle[]
  query(
    handle: SeriesHandle,
    options: { from?: number; to?: number; resolution?: 'raw' | '1m' | '1h' | 'auto' },
  ): Point[] | RollupPoint[]
}

/** Most series one answer carries (a metric with more label sets is cut, and says so). */
export const MAX_HISTORY_SERIES = 100
/** Most points per series in one answer (the latest are kept, and it says so). */
export const MAX_HISTORY_POINTS = 10_000

const time = z
  .union([
    z.coerce.number().int().min(0).max(8.64e15),
    z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  ])
  .describe('ms since the Unix epoch, or an ISO 8601 date-time')

const HistoryQuerySchema = z.strictObject({
  metric: z
    .string()
    .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$/, 'a Prometheus metric name')
    .optional()
    .describe('The metric; without it, the series the store holds'),
  labels: z
    .string()
    .max(2_000)
    .regex(/^([a-zA-Z_][a-zA-Z0-9_]{0,99}=[^,=]{0,200})(,[a-zA-Z_][a-zA-Z0-9_]{0,99}=[^,=]{0,200}){0,15}$/, 'k=v,k2=v2')
    .optional()
    .describe('Only series with these labels (k=v,k2=v2)'),
  from: time.optional(),
  to: time.optional(),
  resolution: z.enum(['raw', '1m', '1h', 'auto']).default('auto'),
  maxPoints: z.coerce.number().int().min(1).max(MAX_HISTORY_POINTS).default(1_000),
})

const SeriesSchema = z.object({ name: z.string(), labels: z.record(z.string(), z.string()) })
const HistorySchema = z.object({
  metric: z.string(),
  resolution: z.enum(['raw', '1m', '1h', 'auto']),
  from: z.number().optional(),
  to: z.number().optional(),
  series: z.array(
    z.object({
      labels: z.record(z.string(), z.string()),
      points: z.array(
        z.union([
          z.object({ t: z.number(), v: z.number() }),
          z.object({ t: z.number(), min: z.number(), max: z.number(), mean: z.number(), count: z.number() }),
        ]),
      ),
      truncated: z.boolean(),
    }),
  ),
  truncatedSeries: z.boolean(),
})

function parseLabels(s: string | undefined): Labels {
  const out: Labels = {}
  for (const kv of s === undefined || s === '' ? [] : s.split(',')) {
    const i = kv.indexOf('=')
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}

export function historyRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  app.get(
    '/metrics/history',
    {
      schema: {
        hide,
        tags: ['metrics'],
        summary:
          "The node's metric history (kept across restarts): the series held, or one metric's points in [from, to] — raw, or 1-minute / 1-hour rollups (min, max, mean, count); auto picks the finest resolution still kept for from",
        querystring: HistoryQuerySchema,
        response: {
          200: z.union([HistorySchema, z.object({ series: z.array(SeriesSchema), truncated: z.boolean() })]),
          ...errors(400, 404, 501),
        },
      },
    },
    async (request) => {
      const store = parts.metricsHistory
      if (store === undefined) throw new ApiError(501, 'MetricsOff', 'this node keeps no metric history')
      const q = request.query
      if (q.metric === undefined) {
        const all = store.list()
        return {
          series: all.slice(0, 1_000).map((h) => ({ name: h.name, labels: { ...h.labels } })),
          truncated: all.length > 1_000,
        }
      }
      if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
        throw new ApiError(400, 'InvalidRange', `from (${q.from}) is after to (${q.to})`)
      }
      const want = parseLabels(q.labels)
      const handles = store.list(q.metric).filter((h) => Object.entries(want).every(([k, v]) => h.labels[k] === v))
      if (handles.length === 0) {
        throw new ApiError(
          404,
          'UnknownMetric',
          `the history holds no series of ${q.metric}${q.labels ? ` with ${q.labels}` : ''}`,
        )
      }
      const range = {
        ...(q.from !== undefined ? { from: q.from } : {}),
        ...(q.to !== undefined ? { to: q.to } : {}),
      }
      return {
        metric: q.metric,
        resolution: q.resolution,
        ...range,
        series: handles.slice(0, MAX_HISTORY_SERIES).map((h) => {
          const points = store.query(h, { ...range, resolution: q.resolution })
          return {
            labels: { ...h.labels },
            points: points.slice(Math.max(0, points.length - q.maxPoints)),
            truncated: points.length > q.maxPoints,
          }
        }),
        truncatedSeries: handles.length > MAX_HISTORY_SERIES,
      }
    },
  )
}
