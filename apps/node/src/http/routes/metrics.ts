/**
 * Figures: `/metrics` (Prometheus text, from @vain/metrics), and under `/api/metrics` the cluster
 * view, the host and process, the network and training.
 * @module
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import type { ApiApp, ApiParts, RouteOptions } from '../parts.js'
import { AnyJson, errors } from '../schemas.js'
import { historyRoutes } from './history.js'
import { summary } from './jobs.js'

/** The Prometheus route, at the server's root (`GET /metrics`; a GET: scraped without a token). */
export function prometheusRoute(app: ApiApp, parts: ApiParts): void {
  const metrics = parts.metrics
  if (metrics === undefined) return
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: z.string() },
      },
    },
    async (_request, reply) =>
      reply
        .type('text/plain; version=0.0.4; charset=utf-8')
        .serializer((s: unknown) => s as string)
        .send(await metrics.text()),
  )
}

/** `GET /api/metrics/system`'s body. */
export const SystemResponseSchema = z.looseObject({ host: AnyJson, process: AnyJson, resources: AnyJson.optional() })

/** The host and the process now (`GET /api/metrics/system`; the feed's `metrics` channel). */
export function systemBody(parts: Pick<ApiParts, 'resources'>): z.input<typeof SystemResponseSchema> {
  const mem = process.memoryUsage()
  const resources = parts.resources?.sample?.()
  return {
    host: { cpus: cpus().length, loadavg: loadavg(), totalMemory: totalmem(), freeMemory: freemem() },
    process: {
      pid: process.pid,
      node: process.version,
      uptimeS: process.uptime(),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      cpuUsage: process.cpuUsage(),
    },
    ...(resources !== undefined ? { resources, limits: parts.resources?.limits() } : {}),
  }
}

/** One completed round of a job, as `GET /api/metrics/training` tells it. */
export const TrainingRoundSchema = z.looseObject({
  round: z.number(),
  /** The round model's accuracy on (up to 1000 samples of) this node's own data (MNIST jobs on a node with data). */
  accuracy: z.number().optional(),
  loss: z.number().optional(),
  /** Updates aggregated into the round's model. */
  contributions: z.number(),
  /** Bytes of this node's update sent for the round (a trainer). */
  bytesUp: z.number().optional(),
  /** Bytes of trainers' updates this node received for the round (a committee member). */
  bytesDown: z.number().optional(),
  /** When the round completed (ms since epoch). */
  at: z.number(),
})

/** `GET /api/metrics/training`'s body. */
export const TrainingResponseSchema = z.object({
  jobs: z.array(
    z.looseObject({
      jobId: z.string(),
      roundsCompleted: z.number(),
      contributions: z.array(z.number()),
      history: z.array(TrainingRoundSchema),
    }),
  ),
})

/** Rounds of a job's history kept in `GET /api/metrics/training`. */
export const TRAINING_HISTORY_ROUNDS = 1000

/** Training per job (`GET /api/metrics/training`; the feed's `training` channel). */
export async function trainingBody(
  parts: Pick<ApiParts, 'participant' | 'feed'>,
): Promise<z.input<typeof TrainingResponseSchema>> {
  const { participant } = parts
  const states = await Promise.all(participant.jobIds().map((id) => participant.jobState(id)))
  return {
    jobs: states
      .filter((s) => s !== undefined)
      .map((s) => {
        const j = summary(s)
        const extra = parts.feed?.rounds(s.jobId)
        const history = j.history.slice(-TRAINING_HISTORY_ROUNDS).map((h) => {
          const x = extra?.get(h.round)
          return {
            ...h,
            ...(x?.accuracy !== undefined ? { accuracy: x.accuracy } : {}),
            ...(x?.loss !== undefined ? { loss: x.loss } : {}),
            ...(x?.bytesUp !== undefined ? { bytesUp: x.bytesUp } : {}),
            ...(x?.bytesDown !== undefined ? { bytesDown: x.bytesDown } : {}),
            at: h.completedAt,
          }
        })
        return {
          ...j,
          history,
          roundsCompleted: j.history.length,
          contributions: j.history.map((h) => h.contributions),
        }
      }),
  }
}

export function metricsRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  if (!hide) historyRoutes(app, parts, { hide })
  const { node } = parts
  app.get(
    '/metrics/cluster',
    {
      schema: {
        hide,
        tags: ['metrics'],
        summary: 'Summaries of the authenticated peers (over /vain/metrics)',
        response: { 200: AnyJson, ...errors(501) },
      },
    },
    async () => {
      if (parts.metrics === undefined) throw new ApiError(501, 'MetricsOff', 'this node runs without @vain/metrics')
      return await parts.metrics.cluster()
    },
  )
  if (hide) return
  app.get(
    '/metrics/system',
    {
      schema: {
        tags: ['metrics'],
        summary:
          'Host and process: CPUs, load, memory, uptime (and the resource monitor’s sample, when the node has one)',
        response: { 200: SystemResponseSchema },
      },
    },
    async () => systemBody(parts),
  )
  app.get(
    '/metrics/network',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Network: health, peer exchange counters, pubsub topics',
        response: { 200: z.looseObject({ health: AnyJson, peerExchange: AnyJson.optional() }) },
      },
    },
    async () => {
      const pex = node.libp2p.services.pex
      return {
        health: await node.health(),
        ...(pex !== undefined ? { peerExchange: { ...pex.stats } } : {}),
      }
    },
  )
  app.get(
    '/metrics/training',
    {
      schema: {
        tags: ['metrics'],
        summary:
          'Training per job: rounds completed, contributions per round, state, and per completed round (the last 1000) its accuracy and loss on this node’s data, contributions and bytes',
        response: { 200: TrainingResponseSchema },
      },
    },
    async () => trainingBody(parts),
  )
}
