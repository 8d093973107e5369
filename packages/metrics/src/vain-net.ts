/**
 * `/vain/metrics` over `@vain/net`: a node serves its summary to authenticated peers (the node's
 * handshake, per-peer and shared rate budgets apply, plus one request per peer per
 * `minIntervalMs`), and gathers its peers' summaries for a cluster view.
 *
 * @example
 * ```ts
 * import { gatherCluster, serveMetrics } from '@vain/metrics/vain-net'
 * await serveMetrics(node, { summary: async () => summarize(await metrics.samples()) })
 * const view = await gatherCluster(node)
 * ```
 */
import type { PeerId } from '@libp2p/interface'
import { defineRequestProtocol, RateLimitedError, type VainNode } from '@vain/net'
import { z } from 'zod'
import { type NodeSummary, NodeSummarySchema } from './cluster.js'

/** The protocol: a tiny request, a summary of at most 64 KiB back, 5 s deadline. */
export const metricsProtocol = defineRequestProtocol({
  id: '/vain/metrics/1.0.0',
  request: z.object({ v: z.literal(1) }).strict(),
  response: NodeSummarySchema,
  maxRequestBytes: 64,
  maxResponseBytes: 64 * 1024,
  timeoutMs: 5_000,
})

/** Options of {@link serveMetrics}. */
export interface ServeMetricsInit {
  /** This node's summary now. */
  summary: () => Promise<NodeSummary> | NodeSummary
  /** One request per peer per this many ms (`RateLimitedError` otherwise). Default 1 s. */
  minIntervalMs?: number
}

/** Serve `/vain/metrics` on `node`. Resolves with the function that stops serving. */
export async function serveMetrics(node: VainNode, init: ServeMetricsInit): Promise<() => Promise<void>> {
  const minInterval = init.minIntervalMs ?? 1000
  const last = new Map<string, number>()
  await node.handle(metricsProtocol, async (_req, ctx) => {
    const id = ctx.remotePeer.toString()
    const now = Date.now()
    const prev = last.get(id)
    if (prev !== undefined && now - prev < minInterval) {
      throw new RateLimitedError(`one /vain/metrics request per ${minInterval} ms`, minInterval - (now - prev))
    }
    last.set(id, now)
    if (last.size > 10_000) last.delete(last.keys().next().value as string)
    return init.summary()
  })
  return () => node.unhandle(metricsProtocol)
}

/** One peer in a cluster view. */
export type ClusterMember =
  | { peerId: string; ok: true; summary: NodeSummary }
  | { peerId: string; ok: false; error: string; message: string }

/** Options of {@link gatherCluster}. */
export interface GatherInit {
  /** Peers to ask (default: every authenticated peer). */
  peers?: PeerId[]
  /** At most this many requests at once. Default 16. */
  concurrency?: number
  signal?: AbortSignal
}

/** Ask peers for their summaries; a peer that fails is reported with its error's name, not thrown. */
export async function gatherCluster(node: VainNode, init: GatherInit = {}): Promise<ClusterMember[]> {
  const peers = init.peers ?? node.authenticatedPeers()
  const out: ClusterMember[] = []
  let next = 0
  const worker = async () => {
    while (next < peers.length) {
      const peer = peers[next++] as PeerId
      try {
        const summary = await node.request(
          peer,
          metricsProtocol,
          { v: 1 },
          init.signal !== undefined ? { signal: init.signal } : {},
        )
        out.push({ peerId: peer.toString(), ok: true, summary })
      } catch (err) {
        out.push({ peerId: peer.toString(), ok: false, error: (err as Error).name, message: (err as Error).message })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(init.concurrency ?? 16, peers.length) }, worker))
  return out.sort((a, b) => a.peerId.localeCompare(b.peerId))
}

export * from './feed/log.js'
export * from './feed/vain-net.js'
