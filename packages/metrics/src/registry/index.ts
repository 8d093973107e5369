/**
 * The node's Prometheus registry (`prom-client`): training, network health, resources and chain
 * figures under `vain_*`, each metric capped in label sets (a label explosion is dropped and
 * counted in `vain_metrics_label_overflow_total`, never a new series).
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry as PromRegistry, type Registry } from 'prom-client'
import { lintExposition } from './lint.js'

/** The figures a network node reports (what `@vain/net`'s `node.health()` returns). */
export interface NetworkHealthSnapshot {
  connectedPeers: number
  authenticatedPeers: number
  rttMedianMs: number | undefined
  rttP95Ms: number | undefined
  successRate: number
  requestsOk: number
  requestsFailed: number
  bytesIn: number
  bytesOut: number
  openCircuits: number
  /** Inbound requests refused for rate (newer `@vain/net`). */
  rateLimitedRequests?: number
}

/** A source of network health: a `@vain/net` node fits. */
export interface NetworkSource {
  health(): Promise<NetworkHealthSnapshot>
}

/**
 * One reading of the machine's resources. `@vain/resources` (or anything else) fills it; every
 * field is optional.
 */
export interface ResourceSnapshot {
  /** CPU in use, 0–1 of all cores. */
  cpuUtilization?: number
  memoryUsedBytes?: number
  memoryTotalBytes?: number
  gpuUtilization?: number
  gpuMemoryUsedBytes?: number
  diskUsedBytes?: number
  diskTotalBytes?: number
  networkBytesPerSecond?: { in: number; out: number }
}

/** The chain figures of a staking node. */
export interface ChainSnapshot {
  /** Stake, in VAIN (a float: 1e18 base units per VAIN). */
  stake?: number
  tier?: number
  reputation?: number
  /** Rewards earned so far, in VAIN. */
  rewards?: number
}

/** Options of {@link createVainMetrics}. */
export interface VainMetricsInit {
  /** Register into this registry (default: a new one). */
  registry?: Registry
  /** Label sets per metric before new ones are dropped. Default 200. */
  maxSeriesPerMetric?: number
  /** Also collect prom-client's process metrics (CPU, memory, event loop). Default true. */
  defaultMetrics?: boolean
}

/** The refusal of an update (or other message), as `@vain/fl` reports it. */
export interface RefusalDetail {
  kind: string
  errorName: string
}

/** One sample of the registry, for the time-series store. */
export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * The metrics of one vAIn node.
 *
 * @example
 * ```ts
 * const metrics = createVainMetrics({ defaultMetrics: false })
 * metrics.roundCompleted({ jobId: 'j', round: 3, seconds: 4.2 })
 * console.log(await metrics.registry.metrics()) // Prometheus text format
 * ```
 */
export class VainMetrics {
  readonly registry: Registry
  private readonly maxSeries: number
  private readonly seen = new Map<string, Set<string>>()
  private network: NetworkSource | undefined
  private networkReading: Promise<NetworkHealthSnapshot | undefined> | undefined

  readonly round: Gauge<'job'>
  readonly accuracy: Gauge<'job'>
  readonly loss: Gauge<'job'>
  readonly updateBytes: Counter<'direction'>
  readonly compressionRatio: Gauge<'job'>
  readonly roundSeconds: Histogram<'job'>
  readonly roundsCompleted: Counter<'job'>
  readonly roundsFailed: Counter<'job'>
  readonly updatesAccepted: Counter
  readonly updatesRefused: Counter<'kind' | 'reason'>
  readonly labelOverflow: Counter<'metric'>
  readonly resources: Gauge<'resource'>
  readonly chain: Gauge<'figure'>

  constructor(init: VainMetricsInit = {}) {
    this.registry = init.registry ?? new PromRegistry()
    const registers = [this.registry]
    this.maxSeries = init.maxSeriesPerMetric ?? 200
    if (init.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry })
    this.round = new Gauge({
      name: 'vain_round',
      help: 'Last round completed, per job',
      labelNames: ['job'],
      registers,
    })
    this.accuracy = new Gauge({
      name: 'vain_accuracy',
      help: 'Model accuracy after the last evaluated round (0-1)',
      labelNames: ['job'],
      registers,
    })
    this.loss = new Gauge({
      name: 'vain_loss',
      help: 'Loss after the last evaluated round',
      labelNames: ['job'],
      registers,
    })
    this.updateBytes = new Counter({
      name: 'vain_update_bytes_total',
      help: 'Model update bytes sent (up) and received (down)',
      labelNames: ['direction'],
      registers,
    })
    this.compressionRatio = new Gauge({
      name: 'vain_compression_ratio',
      help: 'Dense update bytes over the bytes sent, last update',
      labelNames: ['job'],
      registers,
    })
    this.roundSeconds = new Histogram({
      name: 'vain_round_seconds',
      help: 'Round time from start to completion, as this node saw it',
      labelNames: ['job'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    })
    this.roundsCompleted = new Counter({
      name: 'vain_rounds_completed_total',
      help: 'Rounds completed',
      labelNames: ['job'],
      registers,
    })
    this.roundsFailed = new Counter({
      name: 'vain_rounds_failed_total',
      help: 'Round attempts that failed',
      labelNames: ['job'],
      registers,
    })
    this.updatesAccepted = new Counter({
      name: 'vain_updates_accepted_total',
      help: 'Updates this node accepted (as a committee member)',
      registers,
    })
    this.updatesRefused = new Counter({
      name: 'vain_updates_refused_total',
      help: 'Messages this node refused, by kind and reason (the error class)',
      labelNames: ['kind', 'reason'],
      registers,
    })
    this.labelOverflow = new Counter({
      name: 'vain_metrics_label_overflow_total',
      help: 'Samples dropped because their metric had too many label sets',
      labelNames: ['metric'],
      registers,
    })
    this.resources = new Gauge({
      name: 'vain_resource',
      help: 'Resource readings (see the resource label)',
      labelNames: ['resource'],
      registers,
    })
    this.chain = new Gauge({
      name: 'vain_chain',
      help: 'Chain figures: stake and rewards in VAIN, tier, reputation',
      labelNames: ['figure'],
      registers,
    })

    // network health: read from the source at scrape time, once per scrape for all gauges
    const read = async (): Promise<NetworkHealthSnapshot | undefined> => {
      if (this.network === undefined) return undefined
      this.networkReading ??= this.network.health().finally(() => {
        setTimeout(() => {
          this.networkReading = undefined
        }, 50).unref()
      })
      return this.networkReading.catch(() => undefined)
    }
    const gauge = (name: string, help: string, pick: (h: NetworkHealthSnapshot) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const h = await read()
          const v = h === undefined ? undefined : pick(h)
          if (v !== undefined && Number.isFinite(v)) this.set(v)
        },
      })
    gauge('vain_peers', 'Peers with an open connection', (h) => h.connectedPeers)
    gauge('vain_authenticated_peers', 'Connected peers that completed the vAIn handshake', (h) => h.authenticatedPeers)
    gauge('vain_rtt_median_seconds', 'Median round-trip time to peers (s), measured', (h) =>
      h.rttMedianMs === undefined ? undefined : h.rttMedianMs / 1000,
    )
    gauge('vain_rtt_p95_seconds', '95th percentile round-trip time to peers (s), measured', (h) =>
      h.rttP95Ms === undefined ? undefined : h.rttP95Ms / 1000,
    )
    gauge('vain_request_success_ratio', 'Share of requests to peers that succeeded', (h) => h.successRate)
    gauge('vain_requests_ok', 'Requests to peers that succeeded since start', (h) => h.requestsOk)
    gauge('vain_requests_failed', 'Requests to peers that failed since start', (h) => h.requestsFailed)
    gauge('vain_net_bytes_in', 'Bytes received from peers in requests and payloads', (h) => h.bytesIn)
    gauge('vain_net_bytes_out', 'Bytes sent to peers in requests and payloads', (h) => h.bytesOut)
    gauge('vain_open_circuits', 'Peers whose circuit breaker is open', (h) => h.openCircuits)
    gauge('vain_rate_limited_requests', 'Inbound requests refused for rate since start', (h) => h.rateLimitedRequests)
  }

  /** Whether `metric` may take a sample with `labels` (under its label-set cap); counts refusals. */
  allow(metric: string, labels: Record<string, string>): boolean {
    const key = JSON.stringify(Object.entries(labels).sort())
    let set = this.seen.get(metric)
    if (set === undefined) {
      set = new Set()
      this.seen.set(metric, set)
    }
    if (set.has(key)) return true
    if (set.size >= this.maxSeries) {
      this.labelOverflow.inc({ metric })
      return false
    }
    set.add(key)
    return true
  }

  /** Read network health from `source` (e.g. a `@vain/net` node) at every scrape. */
  observeNetwork(source: NetworkSource): void {
    this.network = source
  }

  /** A round completed on this node. */
  roundCompleted(r: { jobId: string; round: number; seconds?: number }): void {
    const job = r.jobId.slice(0, 12)
    if (!this.allow('vain_round', { job })) return
    this.round.set({ job }, r.round)
    this.roundsCompleted.inc({ job })
    if (r.seconds !== undefined) this.roundSeconds.observe({ job }, r.seconds)
  }

  /** A round attempt failed. */
  roundFailed(r: { jobId: string }): void {
    const job = r.jobId.slice(0, 12)
    if (this.allow('vain_rounds_failed_total', { job })) this.roundsFailed.inc({ job })
  }

  /** A model evaluation: accuracy (0–1) and loss after a round. */
  evaluated(r: { jobId: string; accuracy?: number; loss?: number }): void {
    const job = r.jobId.slice(0, 12)
    if (!this.allow('vain_accuracy', { job })) return
    if (r.accuracy !== undefined) this.accuracy.set({ job }, r.accuracy)
    if (r.loss !== undefined) this.loss.set({ job }, r.loss)
  }

  /** An update sent (`bytes` on the wire; `denseBytes` when known gives the compression ratio). */
  updateSent(r: { jobId: string; bytes: number; denseBytes?: number }): void {
    this.updateBytes.inc({ direction: 'up' }, r.bytes)
    const job = r.jobId.slice(0, 12)
    if (r.denseBytes !== undefined && r.bytes > 0 && this.allow('vain_compression_ratio', { job })) {
      this.compressionRatio.set({ job }, r.denseBytes / r.bytes)
    }
  }

  /** An update accepted (received) by this node. */
  updateAccepted(r: { bytes: number }): void {
    this.updateBytes.inc({ direction: 'down' }, r.bytes)
    this.updatesAccepted.inc()
  }

  /** A message refused, by kind and reason (an error class name: a bounded set). */
  refused(r: RefusalDetail): void {
    const labels = { kind: r.kind, reason: r.errorName }
    if (this.allow('vain_updates_refused_total', labels)) this.updatesRefused.inc(labels)
  }

  /** A reading of the machine's resources. */
  setResources(s: ResourceSnapshot): void {
    const set = (resource: string, v: number | undefined) => {
      if (v !== undefined && Number.isFinite(v)) this.resources.set({ resource }, v)
    }
    set('cpu_utilization', s.cpuUtilization)
    set('memory_used_bytes', s.memoryUsedBytes)
    set('memory_total_bytes', s.memoryTotalBytes)
    set('gpu_utilization', s.gpuUtilization)
    set('gpu_memory_used_bytes', s.gpuMemoryUsedBytes)
    set('disk_used_bytes', s.diskUsedBytes)
    set('disk_total_bytes', s.diskTotalBytes)
    set('network_in_bytes_per_second', s.networkBytesPerSecond?.in)
    set('network_out_bytes_per_second', s.networkBytesPerSecond?.out)
  }

  /** The node's chain figures. */
  setChain(s: ChainSnapshot): void {
    for (const figure of ['stake', 'tier', 'reputation', 'rewards'] as const) {
      const v = s[figure]
      if (v !== undefined && Number.isFinite(v)) this.chain.set({ figure }, v)
    }
  }

  /**
   * Prometheus text exposition of every metric in the registry, with libp2p's and prom-client's
   * names that fail `promtool check metrics` rewritten (see {@link lintExposition}).
   */
  async text(): Promise<string> {
    return lintExposition(await this.registry.metrics())
  }

  /** Every gauge and counter sample now (histogram buckets left out), for the time-series store. */
  async samples(): Promise<MetricSample[]> {
    const out: MetricSample[] = []
    for (const m of await this.registry.getMetricsAsJSON()) {
      if (m.type === ('histogram' as unknown) || m.type === ('summary' as unknown)) continue
      for (const v of m.values) {
        const labels: Record<string, string> = {}
        for (const [k, x] of Object.entries(v.labels)) labels[k] = String(x)
        out.push({ name: m.name, labels, value: v.value })
      }
    }
    return out
  }
}

export { lintExposition }

/** Create a node's metrics (see {@link VainMetrics}). */
export function createVainMetrics(init: VainMetricsInit = {}): VainMetrics {
  return new VainMetrics(init)
}

/** The events of a `@vain/fl` participant this module reads (structurally: no dependency). */
export interface ParticipantLike {
  addEventListener(type: string, listener: (evt: Event) => void): void
  removeEventListener(type: string, listener: (evt: Event) => void): void
}

/**
 * Count a `@vain/fl` participant's events into `metrics`: rounds started/completed (round time),
 * failed attempts, updates sent (bytes up), updates accepted (bytes down) and refusals by reason.
 * Returns the detach function.
 */
export function observeParticipant(
  metrics: VainMetrics,
  participant: ParticipantLike,
  options: {
    /** Bytes of a job's dense (uncompressed float32) update, for the compression ratio. */
    denseUpdateBytes?: (jobId: string) => number | undefined
  } = {},
): () => void {
  const started = new Map<string, number>()
  const detail = <T>(e: Event) => (e as CustomEvent<T>).detail
  const handlers: Record<string, (e: Event) => void> = {
    'round:started': (e) => {
      const d = detail<{ jobId: string; round: number }>(e)
      started.set(`${d.jobId}/${d.round}`, performance.now())
      if (started.size > 1000) started.delete(started.keys().next().value as string)
    },
    'round:completed': (e) => {
      const d = detail<{ jobId: string; round: number }>(e)
      const t = started.get(`${d.jobId}/${d.round}`)
      started.delete(`${d.jobId}/${d.round}`)
      metrics.roundCompleted({
        jobId: d.jobId,
        round: d.round,
        ...(t !== undefined ? { seconds: (performance.now() - t) / 1000 } : {}),
      })
    },
    'round:failed': (e) => metrics.roundFailed(detail<{ jobId: string }>(e)),
    'update:sent': (e) => {
      const d = detail<{ jobId: string; bytes: number }>(e)
      const dense = options.denseUpdateBytes?.(d.jobId)
      metrics.updateSent({ jobId: d.jobId, bytes: d.bytes, ...(dense !== undefined ? { denseBytes: dense } : {}) })
    },
    'update:accepted': (e) => metrics.updateAccepted(detail<{ bytes: number }>(e)),
    rejected: (e) => metrics.refused(detail<RefusalDetail>(e)),
  }
  for (const [type, h] of Object.entries(handlers)) participant.addEventListener(type, h)
  return () => {
    for (const [type, h] of Object.entries(handlers)) participant.removeEventListener(type, h)
  }
}
