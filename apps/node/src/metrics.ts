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
  type AlertEngine,
  type AlertRuleInput,
  AlertRuleSchema,
  type AnomalySource,
  type ChainSnapshot,
  createAlerts,
  createHistory,
  createVainMetrics,
  type History,
  logNotifier,
  type Notifier,
  observeParticipant,
  openStore,
  type ResourceSnapshot,
  summarize,
  type TimeSeriesStore,
  type VainMetrics,
  webhookNotifier,
} from '@vain/metrics'
import { gatherCluster, serveMetrics } from '@vain/metrics/vain-net'
import type { VainNode } from '@vain/net'
import type { ResourceSample } from '@vain/resources'
import { z } from 'zod'
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

/**
 * The rules a node runs when its config names none: no authenticated peer for 2 minutes, most
 * requests to peers failing for a minute, and the host's resource anomalies (`@vain/resources`).
 */
export const DEFAULT_ALERT_RULES: AlertRuleInput[] = [
  {
    name: 'no-peers',
    kind: 'threshold',
    metric: 'vain_authenticated_peers',
    op: '<',
    value: 1,
    clear: 1,
    forMs: 120_000,
    severity: 'warning',
    summary: 'no authenticated peer: the node cannot take part in rounds',
  },
  {
    name: 'requests-failing',
    kind: 'threshold',
    metric: 'vain_request_success_ratio',
    op: '<',
    value: 0.5,
    clear: 0.8,
    forMs: 60_000,
    severity: 'warning',
    summary: 'most requests to peers fail',
  },
  {
    name: 'host-anomaly',
    kind: 'anomaly',
    severity: 'info',
    resolveAfterMs: 300_000,
    summary: 'the host behaves unusually',
  },
]

/**
 * The config's `alerts` section: rules (they replace {@link DEFAULT_ALERT_RULES}; `[]` for none),
 * how often they are evaluated, and a webhook that gets every firing and resolved notice as JSON.
 *
 * @example
 * ```json
 * { "alerts": { "rules": [{ "name": "slow-rounds", "kind": "threshold", "metric": "vain_round_seconds_sum", "op": ">", "value": 600 }],
 *               "webhook": { "url": "http://127.0.0.1:9000/alerts" } } }
 * ```
 */
export const NodeAlertsConfigSchema = z.strictObject({
  rules: z.array(AlertRuleSchema).max(500).optional(),
  intervalMs: z.number().int().min(1_000).max(3_600_000).default(10_000),
  webhook: z
    .strictObject({
      url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
      headers: z
        .record(z.string().min(1).max(100), z.string().max(1_000))
        .refine((h) => Object.keys(h).length <= 16, 'at most 16 headers')
        .optional(),
      timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    })
    .optional(),
})
export type NodeAlertsConfig = z.output<typeof NodeAlertsConfigSchema>

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
  /** The node's alert rules (firing/resolved events; notices go to the log and the webhook). */
  alerts: AlertEngine
  /** Start following the node, its participant and chain; serve `/vain/metrics`; record history. */
  attach(opts: {
    node: VainNode
    participant: Participant
    chain?: () => ChainStatus
    resources?: () => ResourceSnapshot | undefined
    /** Anomalies for the `anomaly` alert rules (the node's `@vain/resources` detector). */
    anomalies?: AnomalySource
  }): Promise<void>
  /** The Prometheus text of a scrape, with the chain and host figures read now. */
  text(): Promise<string>
  /** The authenticated peers' summaries. */
  cluster(): Promise<unknown>
  stop(): Promise<void>
}

/** Open the node's metrics (its history store in `<dataDir>/metrics`). */
export function createNodeMetrics(opts: {
  dataDir: string
  log: Logger
  historyIntervalMs?: number
  alerts?: NodeAlertsConfig
}): NodeMetrics {
  const metrics = createVainMetrics()
  const alertsConfig = opts.alerts ?? NodeAlertsConfigSchema.parse({})
  const notifiers: Notifier[] = [logNotifier(opts.log)]
  if (alertsConfig.webhook !== undefined) {
    const { url, headers, timeoutMs } = alertsConfig.webhook
    notifiers.push(webhookNotifier({ url, timeoutMs, ...(headers !== undefined ? { headers } : {}) }))
  }
  // anomalies come from the source handed to attach(); until then there are none
  let anomalySource: AnomalySource | undefined
  const alerts = createAlerts({
    rules: alertsConfig.rules ?? DEFAULT_ALERT_RULES,
    notifiers,
    anomalies: (listener) => anomalySource?.(listener) ?? (() => {}),
  })
  let webhookFailures = 0
  alerts.addEventListener('notifier:error', (e) => {
    // once, then every 20th: a dead webhook must not flood the log
    if (webhookFailures++ % 20 === 0)
      opts.log.warn('alert notification failed', { rule: e.detail.notice.rule, error: e.detail.error.message })
  })
  let alertTimer: ReturnType<typeof setInterval> | undefined
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
    alerts,
    async attach(a) {
      node = a.node
      chain = a.chain
      resources = a.resources
      anomalySource = a.anomalies
      alerts.start()
      alertTimer = setInterval(() => {
        refresh()
        metrics.samples().then(
          (samples) => alerts.evaluate(samples),
          (err: Error) => opts.log.warn('alert rules not evaluated', { error: err.message }),
        )
      }, alertsConfig.intervalMs)
      alertTimer.unref?.()
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
      if (alertTimer !== undefined) clearInterval(alertTimer)
      await alerts.stop()
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
