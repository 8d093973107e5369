// biome-ignore-all lint/suspicious/noAssignInExpressions: the generators step their state in place
/**
 * A day of one vAIn node's history as the node's sampler writes it (every 10 s): the series
 * `@vain/metrics`' collectors record, with the shapes they have on a running node. Deterministic
 * (seeded), so runs compare.
 *
 * - training: round (steps each ~60 s), accuracy / loss / compression ratio / round seconds
 *   (change once per round, 4–6 significant digits), updates accepted/refused counters, bytes up/down
 *   counters (grow by a round's update size, ~5–60 KB, once per round);
 * - network: peers and authenticated peers (small integers, change a few times an hour), RTT
 *   median and p95 (ms, EWMA floats: change on most samples), request success rate (a ratio that
 *   moves when requests fail), requests ok/failed counters (every sample), rate-limited and
 *   circuit-open counts (mostly 0), bytes in/out (every sample);
 * - chain: stake, tier, reputation (constant for hours), rewards (steps per settled round);
 * - process: RSS and heap bytes (every sample, page/word granular), event-loop lag (ms float),
 *   CPU seconds counter.
 */
export interface WorkloadSeries {
  name: string
  labels: Record<string, string>
  values: Float64Array
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4

export function nodeDay(points = 8640, seed = 1): { start: number; stepMs: number; series: WorkloadSeries[] } {
  const rnd = mulberry32(seed)
  const series: WorkloadSeries[] = []
  const add = (name: string, labels: Record<string, string>, f: (i: number) => number) => {
    const values = new Float64Array(points)
    for (let i = 0; i < points; i++) values[i] = f(i)
    series.push({ name, labels, values })
  }
  const roundEvery = 6 // samples per round (60 s)
  const roundOf = (i: number) => Math.floor(i / roundEvery)
  const acc = (r: number) =>
    round4(0.95 - 0.25 * Math.exp(-r / 20) + ((Math.sin(r * 12.9898) * 43758.5453) % 1) * 0.004)
  add('vain_round', { job: 'mnist' }, (i) => roundOf(i))
  add('vain_accuracy', { job: 'mnist' }, (i) => acc(roundOf(i)))
  add('vain_loss', { job: 'mnist' }, (i) => round4(2.3 * Math.exp(-roundOf(i) / 15) + 0.2))
  add('vain_compression_ratio', { job: 'mnist' }, (i) => Math.round(((roundOf(i) * 7919) % 100) / 10 + 40) / 1)
  add('vain_round_seconds', { job: 'mnist' }, (i) => Math.round((1 + ((roundOf(i) * 37) % 50) / 10) * 1000) / 1000)
  let accepted = 0
  let refused = 0
  let up = 0
  let down = 0
  add('vain_updates_accepted_total', {}, (i) => (i % roundEvery === 0 ? (accepted += 3) : accepted))
  add('vain_updates_refused_total', { reason: 'invalid' }, (i) => (i % 900 === 0 ? ++refused : refused))
  add('vain_update_bytes_total', { direction: 'up' }, (i) =>
    i % roundEvery === 0 ? (up += 5000 + Math.floor(rnd() * 1000)) : up,
  )
  add('vain_update_bytes_total', { direction: 'down' }, (i) =>
    i % roundEvery === 0 ? (down += 15000 + Math.floor(rnd() * 3000)) : down,
  )
  let peers = 6
  let authd = 6
  add('vain_peers', {}, () => (rnd() < 0.003 ? (peers = 4 + Math.floor(rnd() * 4)) : peers))
  add('vain_authenticated_peers', {}, () =>
    rnd() < 0.003 ? (authd = Math.min(peers, 4 + Math.floor(rnd() * 4))) : authd,
  )
  let rtt = 2
  add('vain_rtt_ms', { quantile: '0.5' }, () => (rtt = rtt * 0.8 + 0.2 * Math.round(1 + rnd() * 4)))
  add('vain_rtt_ms', { quantile: '0.95' }, () => Math.round(3 + rnd() * 6))
  let ok = 0
  let failed = 0
  add('vain_requests_total', { result: 'ok' }, () => (ok += Math.floor(rnd() * 20)))
  add('vain_requests_total', { result: 'failed' }, () => (rnd() < 0.01 ? ++failed : failed))
  const oks = series.at(-2)?.values as Float64Array
  const fails = series.at(-1)?.values as Float64Array
  // a full-precision ratio: it changes whenever a request completes
  add('vain_request_success_ratio', {}, (i) => {
    const o = oks[i] as number
    const f = fails[i] as number
    return o + f === 0 ? 1 : o / (o + f)
  })
  add('vain_rate_limited_total', {}, (i) => Math.floor(i / 3000))
  add('vain_open_circuits', {}, (i) => (i % 2000 < 5 ? 1 : 0))
  let bin = 0
  let bout = 0
  add('vain_net_bytes_total', { direction: 'in' }, () => (bin += 2000 + Math.floor(rnd() * 500)))
  add('vain_net_bytes_total', { direction: 'out' }, () => (bout += 1500 + Math.floor(rnd() * 500)))
  add('vain_chain_stake_vain', {}, () => 10000)
  add('vain_chain_tier', {}, () => 3)
  add('vain_chain_reputation', {}, (i) => 100 + Math.floor(i / 1440))
  let rewards = 0
  add('vain_chain_rewards_vain', {}, (i) => (i % 60 === 0 ? (rewards += 2.5) : rewards))
  let rss = 180 * 1024 * 1024
  add('process_resident_memory_bytes', {}, () => (rss += (Math.floor(rnd() * 64) - 31) * 4096))
  let heap = 60 * 1024 * 1024
  add('nodejs_heap_used_bytes', {}, () => (heap = Math.max(30e6, heap + (Math.floor(rnd() * 2000) - 990) * 8)))
  add('nodejs_eventloop_lag_seconds', {}, () => Math.round((0.002 + rnd() * 0.01) * 1e6) / 1e6)
  let cpu = 0
  add('process_cpu_seconds_total', {}, () => (cpu = Math.round((cpu + 0.5 + rnd()) * 1000) / 1000))
  return { start: Date.UTC(2026, 0, 1), stepMs: 10_000, series }
}
