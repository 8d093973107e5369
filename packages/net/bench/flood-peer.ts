/**
 * The other processes of the flood benchmark (bench/flood.ts), each in its own process as real
 * peers would be:
 *
 *   flood-peer.ts server            a vAIn node serving the echo protocol with the default
 *                                   limits; prints its address as one JSON line, then answers
 *                                   each line on stdin with one JSON line: `rss` → `{"rss":
 *                                   bytes}`, `cpu` → `{"cpuMs": user+system ms so far}`,
 *                                   `prof-start` → `{}`, `prof-stop [path]` → a CPU profile
 *                                   summary (see profile.ts), the raw profile written to path
 *   flood-peer.ts attack <addr> <n> [pace]
 *                                   n fresh identities each sending requests as fast as 16
 *                                   streams allow (refusals retried at once) until stdin closes,
 *                                   or with `pace`, each at that many requests per second;
 *                                   then prints `{"served": …, "refused": …, "failed": …,
 *                                   "cpuMs": …}` (cpuMs: this process's user+system CPU while
 *                                   flooding)
 */
import { createInterface } from 'node:readline'
import { createNode, RateLimitedError, type VainNode } from '../src/index.js'
import { CpuProfiler } from './profile.js'
import { floodEcho } from './protocols.js'

const light = {
  profile: 'loopback',
  discovery: { dht: false, pex: false },
  gossip: { enabled: false },
  sessions: { rttProbeIntervalMs: 0 },
} as const

const [mode, addr, count, paceArg] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })

if (mode === 'server') {
  const node = await createNode(light)
  await node.start()
  await node.handle(floodEcho, (req) => req)
  process.stdout.write(`${JSON.stringify({ multiaddr: node.multiaddrs[0]?.toString(), limits: node.config.limits })}\n`)
  const profiler = new CpuProfiler()
  const reply = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
  lines.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/)
    if (cmd === 'rss') reply({ rss: process.memoryUsage().rss })
    else if (cmd === 'cpu') {
      const c = process.cpuUsage()
      reply({ cpuMs: (c.user + c.system) / 1000, bans: node.penalties?.bansIssued ?? 0 })
    } else if (cmd === 'prof-start') void profiler.start().then(() => reply({}))
    else if (cmd === 'prof-stop') void profiler.stop(arg).then(reply)
  })
  lines.on('close', () => void node.stop().then(() => process.exit(0)))
} else if (mode === 'attack' && addr !== undefined) {
  const n = Number(count ?? 1)
  // requests per second per identity; undefined: as fast as 16 streams allow
  const pace = paceArg === undefined ? undefined : Number(paceArg)
  const nodes: VainNode[] = await Promise.all(
    Array.from({ length: n }, async () => {
      const node = await createNode(light)
      await node.start()
      return node
    }),
  )
  const peers = await Promise.all(nodes.map((node) => node.connect(addr)))
  let stopping = false
  const tally = { served: 0, refused: 0, failed: 0 }
  const loops = nodes.flatMap((node, i) =>
    Array.from({ length: 16 }, async (_, k) => {
      // paced: each of the 16 loops sends every 16/pace seconds, staggered
      const gapMs = pace === undefined ? 0 : (16 * 1000) / pace
      if (pace !== undefined) await new Promise((r) => setTimeout(r, (k * gapMs) / 16))
      while (!stopping) {
        const t0 = performance.now()
        try {
          await node.request(peers[i]!, floodEcho, { text: 'flood' })
          tally.served++
        } catch (err) {
          if (err instanceof RateLimitedError) tally.refused++
          else tally.failed++
          // an open breaker fails at once: do not spin
          if (!(err instanceof RateLimitedError)) await new Promise((r) => setTimeout(r, 10))
        }
        const wait = gapMs - (performance.now() - t0)
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      }
    }),
  )
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
  const cpu0 = process.cpuUsage()
  lines.on('close', () => {
    const cpu = process.cpuUsage(cpu0)
    stopping = true
    void Promise.all(loops)
      .then(() => Promise.all(nodes.map((node) => node.stop())))
      .then(() => {
        process.stdout.write(`${JSON.stringify({ ...tally, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`)
        process.exit(0)
      })
  })
} else {
  console.error('usage: flood-peer.ts server | attack <multiaddr> <identities>')
  process.exit(2)
}
