/**
 * Flood benchmark: what honest requests see while fresh identities flood one node. The server,
 * the attackers and the honest client are separate processes (as real peers are); the server
 * runs the default limits of the loopback profile (per peer and protocol, plus the per-protocol
 * budget shared by all peers; the per-range budget is off on loopback, where every peer is one
 * range). Prints honest p50/p99 alone (baseline), under a flood from 1 identity and from 10,
 * with the ratio to the baseline, and the server's RSS before, during and after.
 *
 *   pnpm bench:flood               # 300 honest requests per phase
 *   pnpm bench:flood -- --quick    # 150
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import * as os from 'node:os'
import { createInterface, type Interface } from 'node:readline'
import { createNode, RateLimitedError } from '../src/index.js'
import { floodEcho } from './protocols.js'

const quick = process.argv.slice(2).includes('--quick')
const HONEST = quick ? 150 : 300
const HONEST_GAP_MS = 10 // an honest peer asks now and then, not as fast as it can
const fmt = (n: number, d = 1): string => n.toFixed(d)
const mb = (bytes: number): string => fmt(bytes / 2 ** 20)
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function peerProcess(args: string[]): { child: ChildProcess; lines: Interface } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./flood-peer.ts', import.meta.url).pathname, ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  return { child, lines: createInterface({ input: child.stdout as NodeJS.ReadableStream }) }
}

async function nextLine<T>(lines: Interface): Promise<T> {
  const [line] = (await once(lines, 'line')) as [string]
  return JSON.parse(line) as T
}

const cpus = os.cpus()
console.log('# @vain/net flood benchmark')
console.log(
  `machine: ${cpus[0]?.model ?? 'unknown cpu'} × ${cpus.length} cores, ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}, node ${process.version}, load avg ${os
    .loadavg()
    .map((l) => fmt(l, 2))
    .join(' ')}`,
)
console.log(`mode: ${quick ? 'quick' : 'full'} · ${new Date().toISOString()}\n`)

const server = peerProcess(['server'])
const { multiaddr, limits } = await nextLine<{ multiaddr: string; limits: Record<string, unknown> }>(server.lines)
const rss = async (): Promise<number> => {
  server.child.stdin?.write('rss\n')
  return (await nextLine<{ rss: number }>(server.lines)).rss
}
console.log(
  `server limits: per peer ${limits.rateLimitCapacity} burst + ${limits.rateLimitRefillPerSecond}/s; per protocol (all peers) ${limits.protocolRateLimitCapacity} burst + ${limits.protocolRateLimitRefillPerSecond}/s; per range off (loopback)`,
)
console.log(
  `workload: ${HONEST} honest sequential requests per phase (one identity, ${HONEST_GAP_MS} ms apart); each attacking identity keeps 16 requests in flight and retries refusals at once\n`,
)

const honest = await createNode({
  profile: 'loopback',
  discovery: { dht: false, pex: false },
  gossip: { enabled: false },
  sessions: { rttProbeIntervalMs: 0 },
})
await honest.start()
const serverId = await honest.connect(multiaddr)
for (let i = 0; i < 20; i++) await honest.request(serverId, floodEcho, { text: 'warm' })

interface Phase {
  name: string
  p50: number
  p99: number
  refused: number
  failed: number
  flood?: { served: number; refused: number; failed: number; seconds: number }
  rssDuring: number
}

async function honestRun(): Promise<{ rtts: number[]; refused: number; failed: number; seconds: number }> {
  const rtts: number[] = []
  let refused = 0
  let failed = 0
  const t0 = performance.now()
  for (let i = 0; i < HONEST; i++) {
    const t = performance.now()
    try {
      await honest.request(serverId, floodEcho, { text: 'honest' })
      rtts.push(performance.now() - t)
    } catch (err) {
      if (err instanceof RateLimitedError) refused++
      else failed++
    }
    await sleep(HONEST_GAP_MS)
  }
  return { rtts, refused, failed, seconds: (performance.now() - t0) / 1000 }
}

const rssBefore = await rss()
const phases: Phase[] = []
{
  const r = await honestRun()
  phases.push({
    name: 'baseline (no flood)',
    p50: pct(r.rtts, 50),
    p99: pct(r.rtts, 99),
    refused: r.refused,
    failed: r.failed,
    rssDuring: await rss(),
  })
}
const rssAfterSamples: number[] = []
for (const identities of [1, 10]) {
  const attacker = peerProcess(['attack', multiaddr, String(identities)])
  await nextLine(attacker.lines) // ready
  await sleep(1_000) // let the flood reach its pace
  let rssPeak = 0
  const sampler = setInterval(() => {
    void rss().then((v) => {
      rssPeak = Math.max(rssPeak, v)
    })
  }, 500)
  const t0 = performance.now()
  const r = await honestRun()
  clearInterval(sampler)
  rssPeak = Math.max(rssPeak, await rss())
  attacker.child.stdin?.end()
  const flood = await nextLine<{ served: number; refused: number; failed: number }>(attacker.lines)
  const seconds = (performance.now() - t0) / 1000 + 1
  await once(attacker.child, 'exit')
  phases.push({
    name: `flood from ${identities} identit${identities === 1 ? 'y' : 'ies'}`,
    p50: pct(r.rtts, 50),
    p99: pct(r.rtts, 99),
    refused: r.refused,
    failed: r.failed,
    flood: { ...flood, seconds },
    rssDuring: rssPeak,
  })
  await sleep(2_000)
  global.gc?.()
  rssAfterSamples.push(await rss())
}
const rssAfter = rssAfterSamples.at(-1) ?? Number.NaN

const base = phases[0] as Phase
console.log(
  '| phase | honest p50 (ms) | p50 ratio | honest p99 (ms) | p99 ratio | honest refused | flood served/s | flood refused/s | server RSS (MB) |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const p of phases) {
  const f = p.flood
  console.log(
    `| ${p.name} | ${fmt(p.p50, 2)} | ${fmt(p.p50 / base.p50, 2)} | ${fmt(p.p99, 2)} | ${fmt(p.p99 / base.p99, 2)} | ${p.refused}/${HONEST}${p.failed > 0 ? ` (+${p.failed} failed)` : ''} | ${f === undefined ? '–' : fmt(f.served / f.seconds, 0)} | ${f === undefined ? '–' : fmt(f.refused / f.seconds, 0)} | ${mb(p.rssDuring)} |`,
  )
}
console.log(
  `\nserver RSS: before ${mb(rssBefore)} MB, during (peak of any phase) ${mb(Math.max(...phases.map((p) => p.rssDuring)))} MB, after (2 s after each flood) ${rssAfterSamples.map(mb).join(' / ')} MB`,
)
console.log(
  'honest p50/p99 count served requests only; a refused honest request is a RateLimitedError from a shared budget',
)

await honest.stop()
server.child.stdin?.end()
await once(server.child, 'exit')
void rssAfter
