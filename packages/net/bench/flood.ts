/**
 * Flood benchmark: what honest requests see while fresh identities flood one node. The server,
 * the attackers and the honest client are separate processes (as real peers are); the server
 * runs the default limits of the loopback profile (per peer and protocol, plus the per-protocol
 * budget shared by all peers; the per-range budget is off on loopback, where every peer is one
 * range). Prints honest p50/p99 alone (baseline), under a flood from 1 identity and from 10,
 * with the ratio to the baseline, and the server's RSS before, during and after.
 *
 * Also prints the CPU each process used in each phase (server, honest client, attackers, as
 * a share of one core): on a small machine the attackers' processes take CPU from the server,
 * which a real attacker (on machines of its own) would not.
 *
 *   pnpm bench:flood                         # 300 honest requests per phase
 *   pnpm bench:flood -- --quick              # 150
 *   pnpm bench:flood -- --profile /tmp/prof  # also profile the server in each phase (self time
 *                                            # by package and function; raw .cpuprofile files)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync } from 'node:fs'
import * as os from 'node:os'
import { join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import { parseArgs } from 'node:util'
import { createNode, RateLimitedError } from '../src/index.js'
import { formatSummary, type ProfileSummary } from './profile.js'
import { floodEcho } from './protocols.js'

const { values: args } = parseArgs({
  // `pnpm bench:flood -- --quick` passes the `--` through
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { quick: { type: 'boolean', default: false }, profile: { type: 'string' } },
})
const quick = args.quick
const profileDir = args.profile
if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })
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
// one command at a time: each is answered by exactly one line, in order
let serverQueue: Promise<unknown> = Promise.resolve()
const ask = <T>(command: string): Promise<T> => {
  const answer = serverQueue.then(() => {
    server.child.stdin?.write(`${command}\n`)
    return nextLine<T>(server.lines)
  })
  serverQueue = answer.catch(() => undefined)
  return answer
}
const rss = async (): Promise<number> => (await ask<{ rss: number }>('rss')).rss
const serverCpuMs = async (): Promise<number> => (await ask<{ cpuMs: number }>('cpu')).cpuMs
const ownCpuMs = (): number => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
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
const connectedAt = Date.now()
for (let i = 0; i < 20; i++) await honest.request(serverId, floodEcho, { text: 'warm' })

interface Phase {
  name: string
  p50: number
  p99: number
  refused: number
  failed: number
  flood?: { served: number; refused: number; failed: number; seconds: number; cpuMs: number }
  rssDuring: number
  seconds: number
  serverCpuMs: number
  honestCpuMs: number
  /** Attacking identities the server banned in this phase. */
  bans?: number
  profile?: ProfileSummary
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
  const s0 = await serverCpuMs()
  const h0 = ownCpuMs()
  const r = await honestRun()
  phases.push({
    name: 'baseline (no flood)',
    p50: pct(r.rtts, 50),
    p99: pct(r.rtts, 99),
    refused: r.refused,
    failed: r.failed,
    rssDuring: await rss(),
    seconds: r.seconds,
    serverCpuMs: (await serverCpuMs()) - s0,
    honestCpuMs: ownCpuMs() - h0,
  })
}
const rssAfterSamples: number[] = []
// an honest peer has been around for a while: wait until the server counts it as known
// (connected for knownPeerAfterMs and never over its own budget); flood identities are fresh
const knownAfterMs = Number(limits.knownPeerAfterMs ?? 0)
const waitKnown = knownAfterMs + 200 - (Date.now() - connectedAt)
if (waitKnown > 0) await sleep(waitKnown)
const floods: Array<{ identities: number; pace?: number }> = [
  { identities: 1 },
  { identities: 10 },
  // each identity within its own budget (never struck): only the shared budgets hold them
  { identities: 10, pace: Math.floor(0.9 * Number(limits.rateLimitRefillPerSecond)) },
]
for (const { identities, pace } of floods) {
  const bans0 = (await ask<{ bans: number }>('cpu')).bans
  const attacker = peerProcess(['attack', multiaddr, String(identities), ...(pace === undefined ? [] : [String(pace)])])
  await nextLine(attacker.lines) // ready
  await sleep(1_000) // let the flood reach its pace
  let rssPeak = 0
  const sampler = setInterval(() => {
    void rss().then((v) => {
      rssPeak = Math.max(rssPeak, v)
    })
  }, 500)
  if (profileDir !== undefined) await ask('prof-start')
  const s0 = await serverCpuMs()
  const h0 = ownCpuMs()
  const r = await honestRun()
  const serverCpu = (await serverCpuMs()) - s0
  const honestCpu = ownCpuMs() - h0
  const profile =
    profileDir === undefined
      ? undefined
      : await ask<ProfileSummary>(
          `prof-stop ${join(profileDir, `server-flood-${identities}${pace === undefined ? '' : `-paced`}.cpuprofile`)}`,
        )
  clearInterval(sampler)
  rssPeak = Math.max(rssPeak, await rss())
  const t1 = performance.now()
  attacker.child.stdin?.end()
  const flood = await nextLine<{ served: number; refused: number; failed: number; cpuMs: number }>(attacker.lines)
  // the attacker counted from "ready": 1 s of warm-up, the honest run, and the wind-down
  const seconds = 1 + r.seconds + (performance.now() - t1) / 1000
  await once(attacker.child, 'exit')
  phases.push({
    name: `flood from ${identities} identit${identities === 1 ? 'y' : 'ies'}${pace === undefined ? '' : `, each paced at ${pace}/s`}`,
    bans: (await ask<{ bans: number }>('cpu')).bans - bans0,
    p50: pct(r.rtts, 50),
    p99: pct(r.rtts, 99),
    refused: r.refused,
    failed: r.failed,
    flood: { ...flood, seconds },
    rssDuring: rssPeak,
    seconds: r.seconds,
    serverCpuMs: serverCpu,
    honestCpuMs: honestCpu,
    ...(profile !== undefined ? { profile } : {}),
  })
  await sleep(2_000)
  global.gc?.()
  rssAfterSamples.push(await rss())
}

const base = phases[0] as Phase
const share = (ms: number, seconds: number): string => `${fmt((100 * ms) / 1000 / seconds, 0)} %`
console.log(
  '| phase | honest p50 (ms) | p50 ratio | honest p99 (ms) | p99 ratio | honest refused | flood served/s | flood refused/s | flood failed/s | banned | server RSS (MB) |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const p of phases) {
  const f = p.flood
  console.log(
    `| ${p.name} | ${fmt(p.p50, 2)} | ${fmt(p.p50 / base.p50, 2)} | ${fmt(p.p99, 2)} | ${fmt(p.p99 / base.p99, 2)} | ${p.refused}/${HONEST}${p.failed > 0 ? ` (+${p.failed} failed)` : ''} | ${f === undefined ? '–' : fmt(f.served / f.seconds, 0)} | ${f === undefined ? '–' : fmt(f.refused / f.seconds, 0)} | ${f === undefined ? '–' : fmt(f.failed / f.seconds, 0)} | ${p.bans ?? '–'} | ${mb(p.rssDuring)} |`,
  )
}
console.log(
  `\nCPU per phase, as a share of one core (${cpus.length} cores in all; the honest client runs in this process):`,
)
console.log('| phase | server | honest client | attackers | all three |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const p of phases) {
  const f = p.flood
  const attackers = f === undefined ? 0 : f.cpuMs / f.seconds / 1000
  const total = (p.serverCpuMs + p.honestCpuMs) / 1000 / p.seconds + attackers
  console.log(
    `| ${p.name} | ${share(p.serverCpuMs, p.seconds)} | ${share(p.honestCpuMs, p.seconds)} | ${f === undefined ? '–' : share(f.cpuMs, f.seconds)} | ${fmt(100 * total, 0)} % |`,
  )
}
console.log(
  `\nserver RSS: before ${mb(rssBefore)} MB, during (peak of any phase) ${mb(Math.max(...phases.map((p) => p.rssDuring)))} MB, after (2 s after each flood) ${rssAfterSamples.map(mb).join(' / ')} MB`,
)
console.log(
  'honest p50/p99 count served requests only; a refused honest request is a RateLimitedError from a shared budget',
)
console.log(
  `the honest peer is known to the server (connected ≥ ${knownAfterMs} ms, within its budget) before the floods; flood identities are fresh. flood refused: RateLimitedError answers; flood failed: streams reset without an answer, connections closed or refused after a ban`,
)
for (const p of phases) {
  if (p.profile !== undefined) console.log(`\nserver CPU profile, ${p.name}:\n${formatSummary(p.profile)}`)
}

await honest.stop()
server.child.stdin?.end()
await once(server.child, 'exit')
