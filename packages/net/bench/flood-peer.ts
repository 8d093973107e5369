/**
 * The other processes of the flood benchmark (bench/flood.ts), each in its own process as real
 * peers would be:
 *
 *   flood-peer.ts server            a vAIn node serving the echo protocol with the default
 *                                   limits; prints its address as one JSON line, then answers
 *                                   each `rss` line on stdin with `{"rss": bytes}`
 *   flood-peer.ts attack <addr> <n> n fresh identities each sending requests as fast as 16
 *                                   streams allow (refusals retried at once) until stdin closes;
 *                                   then prints `{"served": …, "refused": …, "failed": …}`
 */
import { createInterface } from 'node:readline'
import { createNode, RateLimitedError, type VainNode } from '../src/index.js'
import { floodEcho } from './protocols.js'

const light = {
  profile: 'loopback',
  discovery: { dht: false, pex: false },
  gossip: { enabled: false },
  sessions: { rttProbeIntervalMs: 0 },
} as const

const [mode, addr, count] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })

if (mode === 'server') {
  const node = await createNode(light)
  await node.start()
  await node.handle(floodEcho, (req) => req)
  process.stdout.write(`${JSON.stringify({ multiaddr: node.multiaddrs[0]?.toString(), limits: node.config.limits })}\n`)
  lines.on('line', (line) => {
    if (line.trim() === 'rss') process.stdout.write(`${JSON.stringify({ rss: process.memoryUsage().rss })}\n`)
  })
  lines.on('close', () => void node.stop().then(() => process.exit(0)))
} else if (mode === 'attack' && addr !== undefined) {
  const n = Number(count ?? 1)
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
    Array.from({ length: 16 }, async () => {
      while (!stopping) {
        try {
          await node.request(peers[i]!, floodEcho, { text: 'flood' })
          tally.served++
        } catch (err) {
          if (err instanceof RateLimitedError) tally.refused++
          else tally.failed++
          // an open breaker fails at once: do not spin
          if (!(err instanceof RateLimitedError)) await new Promise((r) => setTimeout(r, 10))
        }
      }
    }),
  )
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
  lines.on('close', () => {
    stopping = true
    void Promise.all(loops)
      .then(() => Promise.all(nodes.map((node) => node.stop())))
      .then(() => {
        process.stdout.write(`${JSON.stringify(tally)}\n`)
        process.exit(0)
      })
  })
} else {
  console.error('usage: flood-peer.ts server | attack <multiaddr> <identities>')
  process.exit(2)
}
