/**
 * The metrics store on a node's REAL metrics: a local vAIn network (separate node processes,
 * MNIST, no chain) trains while this benchmark scrapes each node's `GET /metrics` (Prometheus
 * text: vAIn's training, network and resource figures and libp2p's own metrics) once a second,
 * and writes every scrape into `@vain/metrics`' store as if the node's sampler had recorded it
 * every 10 s. Then it prints the store's bytes per point beside baselines from the same points:
 * 16 B raw float64 pairs and JSON lines.
 *
 * The figures are pessimistic for a real node: its values move as much in 1 s of a fast local
 * demo as a real node's do in 10 s, and one short run has few points per chunk (chunk headers
 * weigh more than over a day).
 *
 *   pnpm --filter @vain/node bench:metrics                # 3 nodes, 8 rounds
 *   pnpm --filter @vain/node bench:metrics -- --nodes 5 --rounds 15
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openStore, type SeriesHandle, type TimeSeriesStore } from '@vain/metrics'
import { runDemo } from '../src/demo.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    nodes: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '8' },
    'interval-ms': { type: 'string', default: '1000' },
  },
})
const nodes = Number(values.nodes)
const rounds = Number(values.rounds)
const intervalMs = Number(values['interval-ms'])
const STEP_MS = 10_000

console.log(
  `machine: ${cpus()[0]?.model} ×${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()} ${arch()}, node ${process.version}`,
)
console.log(
  `workload: vain demo, ${nodes} node processes, ${rounds} rounds, no chain; each node's /metrics scraped every ${intervalMs} ms, stored at ${STEP_MS / 1000} s steps`,
)

/** `name{a="x",b="y"} value` lines of a Prometheus text exposition. */
function parseExposition(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const value = Number(m[4])
    if (!Number.isFinite(value)) continue
    const labels: Record<string, string> = {}
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string
    out.push({ name: m[1] as string, labels, value })
  }
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'vain-metrics-real-'))
const start = Date.UTC(2026, 0, 1)
let scrapes = 0
let points = 0
let jsonBytes = 0
let now = start
const store: TimeSeriesStore = openStore({ dir, now: () => now, retention: { raw: 30 * 86_400_000 } })
const handles = new Map<string, SeriesHandle>()
let apis: string[] = []
let done = false

const scraper = (async () => {
  while (!done) {
    await new Promise((r) => setTimeout(r, intervalMs))
    if (apis.length === 0) continue
    const t = start + scrapes * STEP_MS
    now = t
    const texts = await Promise.all(
      apis.map((api) =>
        fetch(`${api}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
          (r) => r.text(),
          () => undefined,
        ),
      ),
    )
    texts.forEach((text, node) => {
      if (text === undefined) return
      for (const s of parseExposition(text)) {
        const labels = { ...s.labels, node: String(node) }
        const key = `${s.name}${JSON.stringify(labels)}`
        let h = handles.get(key)
        if (h === undefined) {
          h = store.series(s.name, labels)
          handles.set(key, h)
        }
        store.append(h, t, s.value)
        points++
        jsonBytes += JSON.stringify({ t, v: s.value }).length + 1
      }
    })
    store.commit()
    scrapes++
  }
})()

const summary = await runDemo({
  nodes,
  rounds,
  target: 1,
  codec: 'top-k',
  json: false,
  keep: false,
  verbose: false,
  quiet: true,
  chain: false,
  onNodes: (list) => {
    apis = list.map((n) => n.api).filter((a): a is string => a !== null)
  },
})
done = true
await scraper
store.close()

const reopened = openStore({ dir, now: () => now, retention: { raw: 30 * 86_400_000 } })
const back = reopened.list().reduce((n, h) => n + reopened.query(h).length, 0)
// raw chunks: the encoded bytes of the raw series' sealed and open chunks with their record framing
const internals = reopened as unknown as {
  byId: Array<{ level: number; sealed: Array<{ bytes: Uint8Array; count: number }> }>
}
let rawBytes = 0
let sealedPoints = 0
for (const s of internals.byId) {
  if (s === undefined || s.level !== 0) continue
  for (const c of s.sealed) {
    rawBytes += c.bytes.length + 8 + 1 + 2 + 2 + 16
    sealedPoints += c.count
  }
}
reopened.close()
const total = statSync(join(dir, 'chunks.log')).size
rmSync(dir, { recursive: true, force: true })

console.log(
  `\n${summary.rounds} rounds trained; ${scrapes} scrapes × ${nodes} nodes = ${points} points in ${handles.size} series (${(points / Math.max(1, handles.size)).toFixed(0)} per series), read back ${back}`,
)
console.log(
  `  store, raw chunks              ${(rawBytes / Math.max(1, sealedPoints)).toFixed(3)} B/point   (goal ≤ 1.37; over the ${sealedPoints} points in sealed chunks)`,
)
console.log(`  store, chunks.log with rollups ${(total / Math.max(1, points)).toFixed(3)} B/point`)
console.log(
  `  baseline raw float64 pairs     16.000 B/point  → ×${(16 / (rawBytes / Math.max(1, sealedPoints))).toFixed(1)} smaller`,
)
console.log(
  `  baseline JSON lines            ${(jsonBytes / Math.max(1, points)).toFixed(3)} B/point  → ×${(jsonBytes / points / (rawBytes / Math.max(1, sealedPoints))).toFixed(1)} smaller`,
)
if (back !== points) throw new Error(`read back ${back} of ${points} points`)
