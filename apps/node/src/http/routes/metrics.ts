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

export function metricsRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  if (!hide) historyRoutes(app, parts, { hide })
  const { node, participant } = parts
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
        response: { 200: z.looseObject({ host: AnyJson, process: AnyJson, resources: AnyJson.optional() }) },
      },
    },
    async () => {
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
    },
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
        summary: 'Training per job: rounds completed, contributions per round, state',
        response: {
          200: z.object({
            jobs: z.array(
              z.looseObject({
                jobId: z.string(),
                roundsCompleted: z.number(),
                contributions: z.array(z.number()),
              }),
            ),
          }),
        },
      },
    },
    async () => {
      const states = await Promise.all(participant.jobIds().map((id) => participant.jobState(id)))
      return {
        jobs: states
          .filter((s) => s !== undefined)
          .map((s) => {
            const j = summary(s)
            return { ...j, roundsCompleted: j.history.length, contributions: j.history.map((h) => h.contributions) }
          }),
      }
    },
  )
}
