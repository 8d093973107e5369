/**
 * The node's metrics (`@vain/metrics`): one Prometheus registry with the node's training,
 * network-health and chain figures and libp2p's own metrics (through
 * `@libp2p/prometheus-metrics`), served as `GET /metrics` by the REST API; the node's history,
 * recorded every 10 s into `<dataDir>/metrics` (a crash-safe time-series store: kept across
 * restarts, 1-minute and 1-hour rollups); and `/vain/metrics` served to authenticated peers, for
 * the cluster view (`GET /metrics/cluster`).
 *
 * `/metrics` needs no API token: it is a GET like every read-only route (the token guards only
 * requests that change the node), Prometheus scrapes carry none, and the API answers only on
 * loopback names (`Host` checked), so a web page cannot read it through DNS rebinding.
 */
import { join } from 'node:path'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { countParameters, type Participant } from '@vain/fl'
import {
  type ChainSnapshot,
  createHistory,
  createVainMetrics,
  type History,
  observeParticipant,
  openStore,
  type ResourceSnapshot,
  summarize,
  type TimeSeriesStore,
  type VainMetrics,
} from '@vain/metrics'
import { gatherCluster, serveMetrics } from '@vain/metrics/vain-net'
import type { VainNode } from '@vain/net'
import type { ResourceSample } from '@vain/resources'
import type { ChainStatus } from './chain/service.js'
import type { Logger } from './logger.js'

/** The folder, in a node's data dir, of its metrics history. */
export const METRICS_DIR = 'metrics'

/** A VAIN amount as `formatVain` writes it (`10000.5 VAIN`), as a number. */
const vain = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined
  const n = Number.parseFloat(s.replace(/[^0-9.eE+-]/g, ''))
  return Number.isFinite(n) ? n : undefined
}

/** The chain figures of a node's chain status. */
export function chainSnapshot(status: ChainStatus): ChainSnapshot {
  const s: ChainSnapshot = {}
  const stake = vain(status.standing?.staked)
  if (stake !== undefined) s.stake = stake
  if (status.standing !== undefined) s.tier = status.standing.tier
  const reputation = status.standing === undefined ? undefined : Number(status.standing.reputation)
  if (reputation !== undefined && Number.isFinite(reputation)) s.reputation = reputation
  const rewards = vain(status.claimed.amount)
  if (rewards !== undefined) s.rewards = rewards
  return s
}

/** The node's metrics, history and cluster protocol. */
export interface NodeMetrics {
  metrics: VainMetrics
  /** `createNode`'s `metrics` option: libp2p's own metrics into the same registry. */
  libp2pMetrics: ReturnType<typeof prometheusMetrics>
  store: TimeSeriesStore
  history: History
  /** Start following the node, its participant and chain; serve `/vain/metrics`; record history. */
  attach(opts: {
    node: VainNode
    participant: Participant
    chain?: () => ChainStatus
    resources?: () => ResourceSnapshot | undefined
  }): Promise<void>
  /** The Prometheus text of a scrape, with the chain and host figures read now. */
  text(): Promise<string>
  /** The authenticated peers' summaries. */
  cluster(): Promise<unknown>
  stop(): Promise<void>
}

/** Open the node's metrics (its history store in `<dataDir>/metrics`). */
export function createNodeMetrics(opts: { dataDir: string; log: Logger; historyIntervalMs?: number }): NodeMetrics {
  const metrics = createVainMetrics()
  const store = openStore({ dir: join(opts.dataDir, METRICS_DIR) })
  for (const damaged of store.damaged) opts.log.warn('metrics history damaged: set aside', { error: damaged.message })
  let chain: (() => ChainStatus) | undefined
  let resources: (() => ResourceSnapshot | undefined) | undefined
  const refresh = () => {
    if (chain !== undefined) metrics.setChain(chainSnapshot(chain()))
    const r = resources?.()
    if (r !== undefined) metrics.setResources(r)
  }
  let warned = 0
  const history = createHistory({
    store,
    samples: async () => {
      refresh()
      return metrics.samples()
    },
    intervalMs: opts.historyIntervalMs ?? 10_000,
    onError: (err) => {
      if (warned++ < 5) opts.log.warn('metrics history: sample refused', { error: err.message })
    },
  })
  let node: VainNode | undefined
  let detach: (() => void) | undefined
  let unserve: (() => Promise<void>) | undefined
  return {
    metrics,
    libp2pMetrics: prometheusMetrics({ registry: metrics.registry, collectDefaultMetrics: false }),
    store,
    history,
    async attach(a) {
      node = a.node
      chain = a.chain
      resources = a.resources
      metrics.observeNetwork(a.node)
      // a job's dense update (float32 per parameter) over the bytes sent: the compression ratio
      const dense = new Map<string, number>()
      const joined = (e: Event) => {
        const d = (e as CustomEvent<{ jobId: string; spec: { architecture: Parameters<typeof countParameters>[0] } }>)
          .detail
        try {
          dense.set(d.jobId, countParameters(d.spec.architecture) * 4)
          if (dense.size > 1000) dense.delete(dense.keys().next().value as string)
        } catch {
          // an architecture this version cannot count: no ratio for that job
        }
      }
      a.participant.addEventListener('job:joined', joined)
      const off = observeParticipant(metrics, a.participant, { denseUpdateBytes: (jobId) => dense.get(jobId) })
      detach = () => {
        off()
        a.participant.removeEventListener('job:joined', joined)
      }
      unserve = await serveMetrics(a.node, {
        summary: async () => {
          refresh()
          return summarize(await metrics.samples())
        },
      })
      history.start()
    },
    text() {
      refresh()
      return metrics.text()
    },
    async cluster() {
      if (node === undefined) return []
      return gatherCluster(node, { signal: AbortSignal.timeout(10_000) })
    },
    async stop() {
      detach?.()
      await history.stop()
      await unserve?.().catch(() => {})
      store.close()
    },
  }
}

export type { ResourceSnapshot }

/**
 * The host figures `@vain/metrics` exports, from a `@vain/resources` sample: what the host does not
 * report stays absent (never zero). GPUs are summed (utilization averaged).
 */
export function resourceFigures(sample: ResourceSample | undefined): ResourceSnapshot | undefined {
  if (sample === undefined) return undefined
  const out: ResourceSnapshot = {}
  if (sample.cpu.host !== undefined) out.cpuUtilization = sample.cpu.host
  const { totalBytes, availableBytes } = sample.memory
  out.memoryTotalBytes = totalBytes
  if (availableBytes !== undefined) out.memoryUsedBytes = totalBytes - availableBytes
  const gpus = sample.gpu ?? []
  const util = gpus.map((g) => g.utilization).filter((u): u is number => u !== undefined)
  if (util.length > 0) out.gpuUtilization = util.reduce((a, b) => a + b, 0) / util.length
  const gmem = gpus.map((g) => g.memoryUsedBytes).filter((m): m is number => m !== undefined)
  if (gmem.length > 0) out.gpuMemoryUsedBytes = gmem.reduce((a, b) => a + b, 0)
  const { totalBytes: diskTotal, freeBytes } = sample.disk
  if (diskTotal !== undefined) out.diskTotalBytes = diskTotal
  if (diskTotal !== undefined && freeBytes !== undefined) out.diskUsedBytes = diskTotal - freeBytes
  const { rxBytesPerSec, txBytesPerSec } = sample.network
  if (rxBytesPerSec !== undefined && txBytesPerSec !== undefined)
    out.networkBytesPerSecond = { in: rxBytesPerSec, out: txBytesPerSec }
  return out
}
