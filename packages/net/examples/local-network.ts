/**
 * The @vain/net demo: a local vAIn network on 127.0.0.1. Node 0 is the bootstrap peer; every
 * other node is told only about it and finds the rest by peer exchange and the DHT. Prints what
 * each node sees, gossips a message, streams a model-sized payload, and stops cleanly.
 *
 *   pnpm start                      # 8 nodes
 *   pnpm start -- --nodes 20 --json
 */
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { createNode, definePayloadProtocol, defineTopic, type VainNode } from '../src/index.js'

const HELP = `vAIn network demo — a local network of @vain/net nodes on 127.0.0.1

Usage: pnpm start [-- options]

Options:
  -n, --nodes <N>      number of nodes, 2-100 (default 8)
  -t, --timeout <s>    give up discovery after this many seconds (default 60)
      --json           print one JSON summary instead of progress lines
  -h, --help           show this help
`

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n\n${HELP}`)
  process.exit(2)
}

let args: { nodes: number; timeout: number; json: boolean }
try {
  const { values } = parseArgs({
    // `pnpm start -- --nodes 20` passes the `--` through: drop it
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      nodes: { type: 'string', short: 'n', default: '8' },
      timeout: { type: 'string', short: 't', default: '60' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    process.exit(0)
  }
  const parsed = z
    .object({
      nodes: z.coerce.number().int().min(2).max(100),
      timeout: z.coerce.number().positive().max(3600),
      json: z.boolean(),
    })
    .safeParse(values)
  if (!parsed.success) fail(parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '))
  args = parsed.data
} catch (err) {
  fail((err as Error).message)
}

const log = (line: string): void => {
  if (!args.json) process.stdout.write(`${line}\n`)
}

const hello = defineTopic({ name: 'vain-demo/hello', schema: z.object({ text: z.string(), from: z.string() }) })
const model = definePayloadProtocol({ id: '/vain-demo/model/1.0.0', meta: z.object({ name: z.string() }) })

const short = (node: VainNode | { toString(): string }): string => {
  const id = 'peerId' in node ? node.peerId.toString() : node.toString()
  return `…${id.slice(-6)}`
}

const started = performance.now()
const nodes: VainNode[] = []
const stopAll = async (): Promise<void> => {
  await Promise.allSettled(nodes.map((n) => n.stop()))
}
process.once('SIGINT', () => {
  log('\ninterrupted: stopping nodes')
  void stopAll().then(() => process.exit(130))
})

log(`vAIn network demo — ${args.nodes} nodes on 127.0.0.1 (profile loopback, mDNS off)`)
const boot = await createNode({ profile: 'loopback', roles: ['aggregator', 'validator'] })
await boot.start()
nodes.push(boot)
const bootstrap = boot.multiaddrs.map(String)
log(`bootstrap ${short(boot)} listening on ${bootstrap[0]}`)
for (let i = 1; i < args.nodes; i += 5) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(5, args.nodes - i) }, async () => {
      const node = await createNode({ profile: 'loopback', bootstrap, discovery: { pexIntervalMs: 2_000 } })
      await node.start()
      return node
    }),
  )
  nodes.push(...batch)
}
log(`started ${nodes.length} nodes in ${((performance.now() - started) / 1000).toFixed(1)} s; discovering…`)

const deadline = Date.now() + args.timeout * 1000
let formedAt: number | undefined
for (;;) {
  const known = await Promise.all(nodes.map(async (n) => (await n.libp2p.peerStore.all()).length))
  const authed = nodes.map((n) => n.authenticatedPeers().length)
  const minKnown = Math.min(...known)
  const bar = '█'.repeat(Math.round((20 * minKnown) / (args.nodes - 1))).padEnd(20, '░')
  if (!args.json) {
    process.stdout.write(
      `\r  discovery ${bar} every node knows ≥ ${minKnown}/${args.nodes - 1} peers · authenticated links min ${Math.min(...authed)} max ${Math.max(...authed)}   `,
    )
  }
  if (minKnown >= args.nodes - 1 && Math.min(...authed) >= Math.min(3, args.nodes - 1)) {
    formedAt = performance.now()
    break
  }
  if (Date.now() > deadline) break
  await new Promise((r) => setTimeout(r, 250))
}
log('')
if (formedAt === undefined) log(`! discovery incomplete after ${args.timeout} s`)
else log(`network formed in ${((formedAt - started) / 1000).toFixed(1)} s`)

for (const node of nodes.slice(0, 8)) {
  const h = await node.health()
  const roles = node.config.roles.join(',')
  log(
    `  ${short(node)} [${roles}] knows ${h.knownPeers} · connections ${h.connections} · authenticated ${h.authenticatedPeers} · rtt p50 ${h.rttMedianMs?.toFixed(1) ?? '–'} ms`,
  )
}
if (nodes.length > 8) log(`  … and ${nodes.length - 8} more`)

// gossip
const receivedBy = new Set<string>()
for (const node of nodes) node.subscribe(hello, () => receivedBy.add(node.peerId.toString()))
await new Promise((r) => setTimeout(r, 2_000))
const speaker = nodes[nodes.length - 1] as VainNode
const gossipStart = performance.now()
await speaker.publish(hello, { text: 'hello, vAIn', from: speaker.peerId.toString() })
while (receivedBy.size < nodes.length - 1 && performance.now() - gossipStart < 10_000) {
  await new Promise((r) => setTimeout(r, 20))
}
log(
  `gossip from ${short(speaker)} reached ${receivedBy.size}/${nodes.length - 1} nodes in ${(performance.now() - gossipStart).toFixed(0)} ms`,
)

// a model-sized payload: 8 MB of sparse float32 deltas
let receivedBytes = 0
await boot.handlePayload(model, async (_meta, body) => {
  for await (const chunk of body) receivedBytes += chunk.byteLength
})
const floats = new Float32Array(2_000_000)
for (let i = 0; i < floats.length; i += 20) floats[i] = Math.sin(i) * 0.01
const sender = nodes[1] as VainNode
const transfer = await sender.sendPayload(boot.peerId, model, { name: 'update' }, new Uint8Array(floats.buffer))
log(
  `payload ${short(sender)} → ${short(boot)}: ${(transfer.payloadBytes / 1e6).toFixed(1)} MB in ${transfer.durationMs.toFixed(0)} ms, ` +
    `${(transfer.wireBytes / 1e6).toFixed(2)} MB on the wire (compression ${transfer.ratio.toFixed(1)}×), received ${(receivedBytes / 1e6).toFixed(1)} MB`,
)

const summary = {
  nodes: nodes.length,
  formedInMs: formedAt === undefined ? null : Math.round(formedAt - started),
  gossipReached: receivedBy.size,
  payload: { bytes: transfer.payloadBytes, wireBytes: transfer.wireBytes, ms: Math.round(transfer.durationMs) },
}
await stopAll()
if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
else log(`done: ${nodes.length} nodes stopped cleanly`)
