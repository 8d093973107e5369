/**
 * @packageDocumentation
 *
 * `@vain/metrics` — metrics and monitoring for vAIn nodes: a Prometheus registry (training,
 * network health, resources, chain; libp2p's own metrics through `@libp2p/prometheus-metrics`),
 * an embedded crash-safe time-series store with Gorilla compression, rollups and retention,
 * alert rules with hysteresis and notifiers, and round analytics. The cluster view over
 * `/vain/metrics` is in `@vain/metrics/vain-net`.
 *
 * @example
 * ```ts
 * import { createVainMetrics, openStore, createHistory } from '@vain/metrics'
 *
 * const metrics = createVainMetrics()
 * metrics.observeNetwork(node) // a @vain/net node: peers, RTT, success ratio… at each scrape
 * const store = openStore({ dir: './data/metrics' })
 * const history = createHistory({ store, samples: () => metrics.samples() })
 * history.start()
 * console.log(await metrics.text()) // Prometheus text format
 * ```
 */

export * from './alerts/engine.js'
export * from './alerts/notifiers.js'
export * from './alerts/rules.js'
export * from './analytics.js'
export * from './cluster.js'
export * from './errors.js'
export * from './history.js'
export * from './registry/index.js'
export { ChunkDecodeError, decodeChunk, GorillaEncoder } from './store/gorilla.js'
export * from './store/tsdb.js'
