/**
 * What an idle vAIn network costs: N @vain/net nodes in this process on 127.0.0.1 (each told up
 * to 3 nodes already up), then the CPU they burn per second once formed, with nothing to do.
 * Variants show which service the CPU goes to.
 *
 *   node --conditions=vain-source --import tsx bench/idle.ts --nodes 30 --pex-ms 5000
 *   … --no-dht --target 8 --seconds 20
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import * as os from 'node:os'
import { parseArgs } from 'node:util'
import { createNode, type VainNode } from '../src/index.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '30' },
    'pex-ms': { type: 'string', default: '30000' },
    target: { type: 'string' },
    'no-dht': { type: 'boolean', default: false },
    'no-gossip': { type: 'boolean', default: false },
    seconds: { type: 'string', default: '20' },
    batch: { type: 'string', default: '5' },
    /** Write a CPU profile of the idle window here (summarized by package on stdout). */
    profile: { type: 'string' },
  },
})
const n = Number(values.nodes)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const nodes: VainNode[] = []
const t0 = performance.now()
const cpu0 = process.cpuUsage()
const config = () => ({
  profile: 'loopback' as const,
  discovery: {
    pexIntervalMs: Number(values['pex-ms']),
    ...(values.target !== undefined ? { targetPeers: Number(values.target) } : {}),
    dht: !values['no-dht'],
  },
  gossip: { enabled: !values['no-gossip'] },
})
for (let k = 0; k < n; k += Number(values.batch)) {
  const up = nodes.length
  const batch = await Promise.all(
    Array.from({ length: Math.min(Number(values.batch), n - k) }, async (_, j) => {
      const i = k + j
      const picks = up === 0 ? [] : [...new Set([i % up, (7 * i + 3) % up, (13 * i + 1) % up])]
      const node = await createNode({
        ...config(),
        bootstrap: picks.map((p) => (nodes[p] as VainNode).multiaddrs[0]?.toString() as string),
      })
      await node.start()
      return node
    }),
  )
  nodes.push(...batch)
}
const startS = (performance.now() - t0) / 1000
const startCpu = process.cpuUsage(cpu0)
// formed: every node has ≥ 3 authenticated peers
let formedS = Number.NaN
const deadline = Date.now() + 180_000
while (Date.now() < deadline) {
  if (nodes.every((x) => x.authenticatedPeers().length >= Math.min(3, n - 1))) {
    formedS = (performance.now() - t0) / 1000
    break
  }
  await sleep(250)
}
await sleep(5_000)
const session = values.profile === undefined ? undefined : new Session()
if (session !== undefined) {
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
}
const pexStats = () => {
  const t = { exchanges: 0, recordsReceived: 0, recordsAccepted: 0 }
  for (const x of nodes) {
    const st = x.libp2p.services.pex?.stats
    if (st === undefined) continue
    t.exchanges += st.exchanges
    t.recordsReceived += st.recordsReceived
    t.recordsAccepted += st.recordsAccepted
  }
  return t
}
const events = new Map<string, number>()
for (const x of nodes) {
  for (const e of [
    'connection:open',
    'connection:close',
    'peer:identify',
    'self:peer:update',
    'peer:connect',
    'peer:disconnect',
  ] as const) {
    x.libp2p.addEventListener(e, () => events.set(e, (events.get(e) ?? 0) + 1))
  }
}
const p1 = pexStats()
const c1 = process.cpuUsage()
const w1 = performance.now()
await sleep(Number(values.seconds) * 1000)
const c = process.cpuUsage(c1)
if (session !== undefined && values.profile !== undefined) {
  const { profile } = await session.post('Profiler.stop')
  writeFileSync(values.profile, JSON.stringify(profile))
  // self time by package (node_modules/<pkg>) or file, and by function
  const dt = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++)
    dt.set(samples[i] as number, (dt.get(samples[i] as number) ?? 0) + (deltas[i] ?? 0))
  const byPkg = new Map<string, number>()
  const byFn = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0
    total += us
    const url = node.callFrame.url
    const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
    const pkg =
      m?.[1] ?? (url === '' ? `(${node.callFrame.functionName || 'native'})` : url.replace(/.*\/packages\//, ''))
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
    const fn = `${node.callFrame.functionName || '(anon)'} ${pkg}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
  }
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([x, us]) => `  ${((100 * us) / total).toFixed(1)} % ${x}`)
      .join('\n')
  console.log(`idle CPU by package:\n${top(byPkg, 15)}\nby function:\n${top(byFn, 20)}`)
}
const p2 = pexStats()
console.log(`libp2p events in the idle window: ${[...events].map(([k, v]) => `${k} ${v}`).join(', ')}`)
console.log(
  `PEX in the idle window: ${p2.exchanges - p1.exchanges} exchanges, ${p2.recordsReceived - p1.recordsReceived} records received, ${p2.recordsAccepted - p1.recordsAccepted} newer than known`,
)
const idle = (c.user + c.system) / 1e6 / ((performance.now() - w1) / 1000)
{
  const x = nodes[Math.floor(n / 2)] as VainNode
  const conns = x.libp2p.getConnections()
  const peers = new Set(conns.map((c) => c.remotePeer.toString()))
  const authed = new Set(x.authenticatedPeers().map(String))
  const now = Date.now()
  const ages = conns.map((c) => Math.round((now - c.timeline.open) / 1000)).sort((a, b) => a - b)
  console.log(
    `node ${Math.floor(n / 2)}: ${conns.length} connections to ${peers.size} peers (${[...peers].filter((p) => authed.has(p)).length} authenticated), ${conns.filter((c) => c.direction === 'inbound').length} inbound; ages (s) ${ages.join(' ')}`,
  )
}
const links = nodes.map((x) => x.authenticatedPeers().length).sort((a, b) => a - b)
const conns = nodes.map((x) => x.libp2p.getConnections().length).sort((a, b) => a - b)
console.log(
  `N=${n} pex=${values['pex-ms']}ms target=${values.target} dht=${!values['no-dht']} gossip=${!values['no-gossip']}: start ${startS.toFixed(1)} s (${((startCpu.user + startCpu.system) / 1e6).toFixed(1)} CPU-s), formed ${Number.isNaN(formedS) ? 'not in 180 s' : `${formedS.toFixed(1)} s`}; idle ${idle.toFixed(2)} CPU-s/s (${((1000 * idle) / n).toFixed(1)} CPU-ms/s per node); authenticated peers min/median/max ${links[0]}/${links[Math.floor(n / 2)]}/${links[n - 1]}, connections median ${conns[Math.floor(n / 2)]}; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB; ${os.cpus().length} cores`,
)
await Promise.allSettled(nodes.map((x) => x.stop()))
process.exit(0)
