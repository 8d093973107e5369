/**
 * @vain/net benchmarks. Prints figures with their workload and the machine. Ratios compare to a
 * baseline measured in the same run (raw TCP on loopback), since machines here are noisy.
 *
 *   pnpm bench                 # full: networks of 10/50/100 nodes
 *   pnpm bench -- --quick      # networks of 10/30 nodes, smaller payloads
 *   pnpm bench -- --only throughput,compression
 *   pnpm bench -- --only flood   # honest latency under a Sybil flood (bench/flood.ts)
 */

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect as tcpConnect } from 'node:net'
import * as os from 'node:os'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import {
  compressSync,
  createNode,
  decompressSync,
  defineRequestProtocol,
  defineTopic,
  type NodeConfigInput,
  type VainNode,
} from '../src/index.js'
import { benchBlob } from './protocols.js'

// `pnpm bench -- --quick` passes the `--` through: drop it
const argv = process.argv.slice(2).filter((a) => a !== '--')
let values: { quick: boolean; only?: string; help: boolean }
try {
  values = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values as typeof values
} catch (err) {
  console.error(`error: ${(err as Error).message}`)
  process.exit(2)
}
if (values.help) {
  console.log('usage: pnpm bench [-- --quick] [-- --only formation,gossip,latency,throughput,compression,flood]')
  process.exit(0)
}
const quick = values.quick
const only = new Set((values.only ?? 'formation,gossip,latency,throughput,compression,flood').split(','))

const fmt = (n: number, d = 1): string => n.toFixed(d)
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const LARGE_WINDOW = {
  initialStreamWindowSize: 16 * 2 ** 20,
  maxStreamWindowSize: 32 * 2 ** 20,
  maxMessageSize: 1 * 2 ** 20,
}

function machine(): void {
  const cpus = os.cpus()
  console.log('# @vain/net benchmark')
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown cpu'} × ${cpus.length} cores, ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}, node ${process.version}`,
  )
  console.log(`mode: ${quick ? 'quick' : 'full'} · ${new Date().toISOString()}\n`)
}

async function startNetwork(n: number): Promise<{ nodes: VainNode[]; startMs: number }> {
  const t0 = performance.now()
  const first = await createNode({ profile: 'loopback', discovery: { pexIntervalMs: 2_000 } })
  await first.start()
  const nodes = [first]
  const bootstrap = first.multiaddrs.map(String)
  for (let i = 1; i < n; i += 5) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(5, n - i) }, async () => {
        const node = await createNode({ profile: 'loopback', bootstrap, discovery: { pexIntervalMs: 2_000 } })
        await node.start()
        return node
      }),
    )
    nodes.push(...batch)
    // nodes join a few per second, as they would in a real network (all in one process here)
    await sleep(1_000)
  }
  return { nodes, startMs: performance.now() - t0 }
}

async function formation(sizes: number[], gossipAt: number): Promise<void> {
  console.log('## Network formation (one process, 5 nodes join per second, each node told only the bootstrap peer)')
  console.log('formed = every node knows all N-1 peers (PEX + DHT) and has ≥ 3 authenticated connections\n')
  console.log('| N | start (s) | formed (s) | RSS per node (MB) | median authenticated links |')
  console.log('| ---: | ---: | ---: | ---: | ---: |')
  for (const n of sizes) {
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    const t0 = performance.now()
    const { nodes, startMs } = await startNetwork(n)
    let formedMs = Number.NaN
    const deadline = Date.now() + 180_000
    while (Date.now() < deadline) {
      const known = await Promise.all(nodes.map(async (x) => (await x.libp2p.peerStore.all()).length))
      if (known.every((k) => k >= n - 1) && nodes.every((x) => x.authenticatedPeers().length >= Math.min(3, n - 1))) {
        formedMs = performance.now() - t0
        break
      }
      await sleep(200)
    }
    const rssPerNode = (process.memoryUsage().rss - rssBefore) / n / 2 ** 20
    const links = nodes.map((x) => x.authenticatedPeers().length)
    console.log(
      `| ${n} | ${fmt(startMs / 1000)} | ${Number.isNaN(formedMs) ? '> 180 (not formed)' : fmt(formedMs / 1000)} | ${fmt(rssPerNode)} | ${pct(links, 50)} |`,
    )
    if (n === gossipAt && only.has('gossip')) await gossip(nodes)
    await Promise.allSettled(nodes.map((x) => x.stop()))
    await sleep(500)
  }
  console.log('')
}

async function gossip(nodes: VainNode[]): Promise<void> {
  const topic = defineTopic({ name: 'bench/gossip', schema: z.object({ id: z.number(), pad: z.string() }) })
  const arrivals = new Map<number, number[]>()
  for (const node of nodes) {
    node.subscribe(topic, (msg) => {
      const list = arrivals.get(msg.id) ?? []
      list.push(performance.now())
      arrivals.set(msg.id, list)
    })
  }
  await sleep(5_000) // meshes form after a few heartbeats
  const messages = quick ? 10 : 30
  const toAll: number[] = []
  const perNode: number[] = []
  let incomplete = 0
  for (let id = 0; id < messages; id++) {
    const from = nodes[(id * 7) % nodes.length] as VainNode
    const t0 = performance.now()
    await from.publish(topic, { id, pad: 'x'.repeat(1000) })
    const deadline = t0 + 10_000
    while ((arrivals.get(id)?.length ?? 0) < nodes.length - 1 && performance.now() < deadline) await sleep(5)
    const times = (arrivals.get(id) ?? []).map((t) => t - t0)
    perNode.push(...times)
    if (times.length >= nodes.length - 1) toAll.push(Math.max(...times))
    else incomplete++
  }
  console.log(
    `\n## Gossip propagation at N=${nodes.length} (${messages} messages of 1 KB, gossipsub, scoring on, loopback profile)`,
  )
  console.log(
    `to every node: median ${fmt(pct(toAll, 50))} ms, p99 ${fmt(pct(toAll, 99))} ms (${incomplete} messages missed a node within 10 s)`,
  )
  console.log(`per delivery: median ${fmt(pct(perNode, 50))} ms, p99 ${fmt(pct(perNode, 99))} ms\n`)
}

async function latency(): Promise<void> {
  const echo = defineRequestProtocol({
    id: '/bench/echo/1.0.0',
    request: z.object({ text: z.string() }),
    response: z.object({ text: z.string() }),
  })
  const a = await createNode({
    profile: 'loopback',
    limits: { rateLimitCapacity: 1_000_000, rateLimitRefillPerSecond: 1_000_000 } as any,
  })
  const b = await createNode({ profile: 'loopback' })
  await a.start()
  await b.start()
  await a.handle(echo, (r) => r)
  await b.connect(a.multiaddrs[0]!)
  for (let i = 0; i < 100; i++) await b.request(a.peerId, echo, { text: 'warm' })
  const n = quick ? 500 : 2000
  const rtts: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await b.request(a.peerId, echo, { text: 'ping' })
    rtts.push(performance.now() - t0)
  }
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = 0; i < n / 16; i++) await b.request(a.peerId, echo, { text: 'ping' })
    }),
  )
  const rps = n / ((performance.now() - t0) / 1000)
  console.log(
    '## Request/response latency (two nodes, one stream per request, loopback profile: tls + yamux, CBOR + zod both ends)',
  )
  console.log(
    `${n} sequential requests: p50 ${fmt(pct(rtts, 50), 2)} ms, p99 ${fmt(pct(rtts, 99), 2)} ms; 16 concurrent callers: ${fmt(rps, 0)} requests/s\n`,
  )
  await Promise.all([a.stop(), b.stop()])
}

async function rawTcp(port: number, totalBytes: number, chunk: Uint8Array): Promise<number> {
  const socket = tcpConnect(port, '127.0.0.1')
  await once(socket, 'connect')
  const header = Buffer.alloc(8)
  header.writeBigUInt64BE(BigInt(totalBytes))
  const t0 = performance.now()
  socket.write(header)
  for (let sent = 0; sent < totalBytes; sent += chunk.byteLength) {
    if (!socket.write(chunk)) await once(socket, 'drain')
  }
  await once(socket, 'data') // the sink acknowledges after the last byte
  const ms = performance.now() - t0
  socket.destroy()
  return totalBytes / (ms / 1000)
}

/** The secure channel and muxer variants the throughput benchmark compares (both ends alike). */
const THROUGHPUT_VARIANTS: Array<{ name: string; config: Pick<NodeConfigInput, 'encryption' | 'muxer'> }> = [
  { name: 'noise + yamux (public default)', config: { encryption: ['noise'] } },
  { name: 'tls 1.3 + yamux (loopback, lan default)', config: { encryption: ['tls'] } },
  {
    name: 'noise + yamux, large window',
    config: { encryption: ['noise'], muxer: LARGE_WINDOW },
  },
  { name: 'tls 1.3 + yamux, large window', config: { encryption: ['tls'], muxer: LARGE_WINDOW } },
]

async function throughputVariant(
  config: Pick<NodeConfigInput, 'encryption' | 'muxer'>,
  total: number,
  chunk: Uint8Array,
  runs: number,
): Promise<{ raw: number[]; p2p: number[] }> {
  // the receiver is its own process, as a real peer is: sender and receiver each get a core
  const peer = spawn(
    process.execPath,
    [
      // `node --cpu-prof --cpu-prof-dir=… --import tsx bench/index.ts` profiles the receiver too
      ...process.execArgv.filter((a) => a.startsWith('--cpu-prof')),
      '--import',
      'tsx',
      new URL('./throughput-peer.ts', import.meta.url).pathname,
      JSON.stringify(config),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const [line] = (await once(createInterface({ input: peer.stdout as NodeJS.ReadableStream }), 'line')) as [string]
  const remote = JSON.parse(line) as { multiaddr: string; tcpPort: number }
  const b = await createNode({
    profile: 'loopback',
    discovery: { dht: false, pex: false },
    gossip: { enabled: false },
    ...config,
  })
  await b.start()
  const peerId = await b.connect(remote.multiaddr)
  async function* source() {
    for (let sent = 0; sent < total; sent += chunk.byteLength) yield chunk
  }
  const raw: number[] = []
  const p2p: number[] = []
  for (let r = 0; r < runs; r++) {
    // raw TCP and the vAIn stream alternate, so both see the same machine load
    raw.push(await rawTcp(remote.tcpPort, total, chunk))
    const t0 = performance.now()
    await b.sendPayload(peerId, benchBlob, {}, source(), { compress: false })
    p2p.push(total / ((performance.now() - t0) / 1000))
  }
  await b.stop()
  peer.stdin?.end()
  await once(peer, 'exit')
  return { raw, p2p }
}

async function throughput(): Promise<void> {
  const total = (quick ? 128 : 512) * 2 ** 20
  const chunk = new Uint8Array(1 << 20)
  crypto.getRandomValues(chunk.subarray(0, 65536))
  for (let i = 65536; i < chunk.length; i++) chunk[i] = chunk[i % 65536] as number
  const runs = 3
  const load = os
    .loadavg()
    .map((l) => fmt(l, 2))
    .join(' ')
  console.log(
    `## Payload throughput (${total / 2 ** 20} MiB per run, ${chunk.byteLength / 2 ** 20} MiB chunks, no compression, ${runs} runs per variant; receiver in a second process, sender in this one; load average at start ${load})`,
  )
  console.log(
    `large window: yamux initialStreamWindowSize ${LARGE_WINDOW.initialStreamWindowSize / 2 ** 20} MiB, maxStreamWindowSize ${LARGE_WINDOW.maxStreamWindowSize / 2 ** 20} MiB, maxMessageSize ${LARGE_WINDOW.maxMessageSize / 2 ** 10} KiB (default 256 KiB / 16 MiB / 64 KiB)`,
  )
  console.log(
    '| variant | raw TCP loopback, median (MB/s) | vAIn payload stream, median (MB/s) | ratio (median of runs) |',
  )
  console.log('| --- | ---: | ---: | ---: |')
  for (const v of THROUGHPUT_VARIANTS) {
    const { raw, p2p } = await throughputVariant(v.config, total, chunk, runs)
    const ratios = p2p.map((x, i) => x / (raw[i] as number))
    console.log(
      `| ${v.name} | ${fmt(pct(raw, 50) / 1e6, 0)} | ${fmt(pct(p2p, 50) / 1e6, 0)} | ${fmt(pct(ratios, 50), 2)} |`,
    )
  }
  console.log(
    `goal ≥ 0.5; load average at end ${os
      .loadavg()
      .map((l) => fmt(l, 2))
      .join(' ')}\n`,
  )
}

function updateLikePayloads(): Record<string, Uint8Array> {
  const n = 1_000_000 // a 1M-parameter model update
  let seed = 42
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
  const dense = new Float32Array(n)
  for (let i = 0; i < n; i++) dense[i] = gauss() * 1e-3
  const sparse = new Float32Array(n)
  for (let i = 0; i < n / 100; i++) sparse[Math.floor(rand() * n)] = gauss() * 1e-2
  const int8 = new Int8Array(n)
  for (let i = 0; i < n; i++) int8[i] = Math.max(-127, Math.min(127, Math.round(gauss() * 20)))
  return {
    'dense fp32 delta': new Uint8Array(dense.buffer),
    'top-1% sparse fp32': new Uint8Array(sparse.buffer),
    'int8-quantized delta': new Uint8Array(int8.buffer),
  }
}

function compression(): void {
  console.log('## Compression per codec on model-update-like payloads (1M parameters)')
  console.log('| payload | codec | ratio | compress MB/s | decompress MB/s |')
  console.log('| --- | --- | ---: | ---: | ---: |')
  const codecs: Array<{ codec: 'none' | 'deflate' | 'brotli'; level: number }> = [
    { codec: 'none', level: 0 },
    { codec: 'deflate', level: 1 },
    { codec: 'deflate', level: 6 },
    { codec: 'brotli', level: 1 },
    { codec: 'brotli', level: 4 },
    { codec: 'brotli', level: 9 },
  ]
  for (const [name, payload] of Object.entries(updateLikePayloads())) {
    for (const { codec, level } of codecs) {
      const t0 = performance.now()
      const out = compressSync(payload, { codec, level })
      const cms = performance.now() - t0
      const t1 = performance.now()
      const back = decompressSync(out.bytes, { maxOutputBytes: payload.byteLength })
      const dms = performance.now() - t1
      if (back.byteLength !== payload.byteLength) throw new Error('round trip failed')
      console.log(
        `| ${name} | ${codec}${codec === 'none' ? '' : `-${level}`} | ${fmt(out.ratio, 2)} | ${fmt(payload.byteLength / 1e6 / (cms / 1000), 0)} | ${fmt(payload.byteLength / 1e6 / (dms / 1000), 0)} |`,
      )
    }
  }
  const decision = compressSync(Object.values(updateLikePayloads())[1] as Uint8Array, { linkBytesPerSec: 10e6 })
  console.log(
    `adaptive choice for the sparse update on a 10 MB/s link: ${decision.codec}-${decision.level} (${decision.reason})\n`,
  )
}

machine()
if (only.has('compression')) compression()
if (only.has('latency')) await latency()
if (only.has('throughput')) await throughput()
if (only.has('formation') || only.has('gossip')) {
  const sizes = quick ? [10, 30] : [10, 50, 100]
  await formation(sizes, sizes[sizes.length - 1] as number)
}
if (only.has('flood')) {
  // its own script (server and attackers in their own processes): run it as a child
  const flood = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./flood.ts', import.meta.url).pathname, ...(quick ? ['--quick'] : [])],
    { stdio: 'inherit' },
  )
  await once(flood, 'exit')
}
process.exit(0)
