/**
 * `pnpm bench` in packages/memory: what the hybrid layer costs over the raw libraries it wraps,
 * measured in the same run, and blob throughput locally and between two nodes on loopback.
 *
 * - RAM tier: a RAM-only namespace vs a bare `lru-cache` with the same byte bound;
 * - disk tier: a disk-only namespace vs a bare `lmdb` database with the same durability;
 * - blobs: put/get MB/s into/out of the local store (sha2-256 per chunk), and a fetch between
 *   two `@vain/net` nodes on 127.0.0.1.
 *
 * Each pair is measured in alternating rounds; the median round is reported.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { createNode } from '@vain/net'
import { open } from 'lmdb'
import { LRUCache } from 'lru-cache'
import { createBlobSharing, createMemory } from '../src/index.js'
import { vainNetBlobNetwork } from '../src/vain-net.js'

const KEYS = Number(process.env.BENCH_KEYS ?? 20_000)
const VALUE_BYTES = Number(process.env.BENCH_VALUE_BYTES ?? 100)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const BATCH = 1_000
const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 64)

const dirs: string[] = []
const tmp = (label: string) => {
  const d = mkdtempSync(join(tmpdir(), `vain-memory-bench-${label}-`))
  dirs.push(d)
  return d
}
const version = (pkg: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '..', 'node_modules', pkg, 'package.json'), 'utf8')).version

const keys = Array.from({ length: KEYS }, (_, i) => `key-${i.toString().padStart(8, '0')}`)
const order = keys.map((_, i) => i)
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor((((i * 2654435761) % 2 ** 32) / 2 ** 32) * (i + 1))
  ;[order[i], order[j]] = [order[j]!, order[i]!]
}
// two distinct values per key, alternated pass by pass: every put replaces the stored value with
// another array (re-putting the very same array would hit lru-cache's no-op update path)
const valueSets = [0, 1].map((set) => keys.map((_, i) => new Uint8Array(VALUE_BYTES).fill((i + set) % 256)))
let pass = 0
const nextValues = () => valueSets[pass++ % 2]!

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`)

/** ops/s of `passes` runs of `body`, each over all keys. */
async function opsPerSecond(body: () => Promise<void> | void, passes = 1): Promise<number> {
  // collect the previous measurement's garbage now, not during this one (`--expose-gc`)
  ;(globalThis as { gc?: () => void }).gc?.()
  const t = performance.now()
  for (let p = 0; p < passes; p++) await body()
  return (KEYS * passes) / ((performance.now() - t) / 1000)
}

interface Pair {
  name: string
  raw: () => Promise<void> | void
  hybrid: () => Promise<void> | void
  /** Runs over all keys per measurement (more for fast operations, so each lasts tens of ms). */
  passes: number
}

/**
 * Measure each pair in ROUNDS rounds, raw and hybrid back to back (alternating which goes
 * first); report the median ops/s of each side and the median of the per-round ratios (pairing
 * cancels most of the drift of a shared machine).
 */
async function compare(pairs: Pair[]): Promise<Array<{ name: string; raw: number; hybrid: number; ratio: number }>> {
  const results = pairs.map((p) => ({
    name: p.name,
    raw: [] as number[],
    hybrid: [] as number[],
    ratio: [] as number[],
  }))
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, p] of pairs.entries()) {
      const r = results[i]!
      let raw: number
      let hybrid: number
      if (round % 2 === 0) {
        raw = await opsPerSecond(p.raw, p.passes)
        hybrid = await opsPerSecond(p.hybrid, p.passes)
      } else {
        hybrid = await opsPerSecond(p.hybrid, p.passes)
        raw = await opsPerSecond(p.raw, p.passes)
      }
      r.raw.push(raw)
      r.hybrid.push(hybrid)
      r.ratio.push(hybrid / raw)
    }
  }
  return results.map((r) => ({ name: r.name, raw: median(r.raw), hybrid: median(r.hybrid), ratio: median(r.ratio) }))
}

async function kvBench() {
  // room for every namespace below to hold all keys: nothing is evicted while measuring
  const ramBytes = KEYS * (VALUE_BYTES + 64) * 8
  // RAM tier: lru-cache with the same byte bound and per-entry sizes
  const lru = new LRUCache<string, Uint8Array>({ maxSize: ramBytes })
  const memory = createMemory({ path: tmp('kv'), ram: { maxBytes: ramBytes }, disk: { durability: 'flush' } })
  await memory.start()
  const ram = memory.namespace('ram', { tiers: 'ram' })
  const ramShared = memory.namespace('ram-shared', { tiers: 'ram', copyValues: false })
  const disk = memory.namespace('disk', { tiers: 'disk' })
  const both = memory.namespace('both')
  // disk tier: a bare lmdb database, same options, same durability (await commit + fsync)
  const rawEnv = open({ path: join(tmp('raw'), 'raw.mdb'), noSubdir: true, maxDbs: 4 })
  const rawDb = rawEnv.openDB<Buffer, string>('kv', { encoding: 'binary', compression: false, cache: false })

  const batched = async (put: (key: string, value: Uint8Array) => Promise<unknown>, flush?: () => Promise<unknown>) => {
    const values = nextValues()
    for (let i = 0; i < KEYS; i += BATCH) {
      const writes: Promise<unknown>[] = []
      for (let j = i; j < Math.min(i + BATCH, KEYS); j++) writes.push(put(keys[order[j]!]!, values[order[j]!]!))
      await Promise.all(writes)
      if (flush !== undefined) await flush()
    }
  }
  const rows = await compare([
    {
      name: 'RAM put, no copy',
      passes: 10,
      raw: () => {
        const values = nextValues()
        for (const i of order) lru.set(keys[i]!, values[i]!, { size: VALUE_BYTES + keys[i]!.length * 2, ttl: 0 })
      },
      hybrid: async () => {
        const values = nextValues()
        let last: Promise<void> | undefined
        for (const i of order) last = ramShared.put(keys[i]!, values[i]!)
        await last
      },
    },
    {
      name: 'RAM put',
      passes: 10,
      raw: () => {
        const values = nextValues()
        for (const i of order) lru.set(keys[i]!, values[i]!, { size: VALUE_BYTES + keys[i]!.length * 2, ttl: 0 })
      },
      // a RAM-only put is done when it returns (its promise is already settled): await the last one
      hybrid: async () => {
        const values = nextValues()
        let last: Promise<void> | undefined
        for (const i of order) last = ram.put(keys[i]!, values[i]!)
        await last
      },
    },
    {
      name: 'RAM get',
      passes: 20,
      raw: () => {
        for (const i of order) if (lru.get(keys[i]!) === undefined) throw new Error('miss')
      },
      hybrid: () => {
        for (const i of order) if (ram.get(keys[i]!) === undefined) throw new Error('miss')
      },
    },
    {
      name: 'disk put',
      passes: 1,
      raw: () =>
        batched(
          (k, v) => rawDb.put(k, v as Buffer),
          () => rawEnv.flushed,
        ),
      hybrid: () => batched((k, v) => disk.put(k, v)),
    },
    {
      name: 'disk get',
      passes: 4,
      raw: () => {
        for (const i of order) if (rawDb.get(keys[i]!) === undefined) throw new Error('miss')
      },
      hybrid: () => {
        for (const i of order) if (disk.get(keys[i]!) === undefined) throw new Error('miss')
      },
    },
  ])
  // the default namespace (RAM over disk, write-through) for reference
  const wtPuts: number[] = []
  const wtGets: number[] = []
  for (let round = 0; round < 3; round++) {
    wtPuts.push(await opsPerSecond(() => batched((k, v) => both.put(k, v))))
    wtGets.push(
      await opsPerSecond(() => {
        for (const i of order) if (both.get(keys[i]!) === undefined) throw new Error('miss')
      }),
    )
  }
  const wtPut = median(wtPuts)
  const wtGet = median(wtGets)
  await rawEnv.close()
  await memory.stop()
  return { rows, wtPut, wtGet }
}

function random(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  let x = 0x9e3779b9
  const view = new Uint32Array(out.buffer)
  for (let i = 0; i < view.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    view[i] = x >>> 0
  }
  return out
}

async function blobBench() {
  const size = BLOB_MB * 1024 * 1024
  const data = random(size)
  const mb = size / 1024 / 1024
  const a = createMemory({ path: tmp('blob-a') })
  await a.start()
  let t = performance.now()
  const { cid } = await a.blobs.put(data)
  const putMBs = mb / ((performance.now() - t) / 1000)
  t = performance.now()
  let read = 0
  for await (const chunk of a.blobs.get(cid)) read += chunk.byteLength
  const getMBs = mb / ((performance.now() - t) / 1000)
  if (read !== size) throw new Error('short read')

  // two nodes on loopback: b fetches from a (DHT lookup, 1 MiB chunks, verified, stored)
  const config = {
    profile: 'loopback' as const,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    gossip: { enabled: false },
    discovery: { mdns: false },
    limits: { rateLimitCapacity: 100_000, rateLimitRefillPerSecond: 100_000 },
  }
  const nodeA = await createNode(config)
  await nodeA.start()
  const nodeB = await createNode({ ...config, bootstrap: nodeA.multiaddrs.map(String) })
  await nodeB.start()
  await nodeB.connect(nodeA.multiaddrs[0]!)
  const b = createMemory({ path: tmp('blob-b') })
  await b.start()
  const sa = createBlobSharing({ memory: a, network: vainNetBlobNetwork(nodeA), repairIntervalMs: 0 })
  const sb = createBlobSharing({ memory: b, network: vainNetBlobNetwork(nodeB), repairIntervalMs: 0 })
  await sa.start()
  await sb.start()
  t = performance.now()
  const report = await sb.fetch(cid, { providers: [nodeA.peerId.toString()] })
  const fetchMBs = mb / ((performance.now() - t) / 1000)
  if (report.bytesFetched !== size) throw new Error('short fetch')
  await Promise.all([sa.stop(), sb.stop()])
  await Promise.all([nodeA.stop(), nodeB.stop()])
  await Promise.all([a.stop(), b.stop()])
  return { putMBs, getMBs, fetchMBs, chunks: report.chunks }
}

const cpu = cpus()
console.log('@vain/memory benchmark')
console.log(
  `machine: ${cpu[0]?.model ?? 'unknown cpu'} × ${cpu.length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${platform()} ${release()} ${arch()}, node ${process.version}, tmpdir ${tmpdir()}`,
)
console.log(`libraries: lmdb ${version('lmdb')}, lru-cache ${version('lru-cache')}`)
console.log(
  `workload: ${KEYS} keys × ${VALUE_BYTES}-byte values (every put replaces a key's value with another array), shuffled order (RAM ops: 10-20 passes per measurement, disk get 4, disk put 1); disk puts in batches of ${BATCH} awaited together ` +
    `(commit + fsync: durability 'flush'), RAM puts: the same loop as lru-cache's, awaiting the last promise; gets synchronous; ` +
    `medians of ${ROUNDS} paired rounds (ratio = median of per-round hybrid/raw); blob ${BLOB_MB} MiB random, 1 MiB chunks`,
)
console.log('')
try {
  const { rows, wtPut, wtGet } = await kvBench()
  console.log('operation          raw ops/s   hybrid ops/s  hybrid/raw  (hybrid cost per op)')
  for (const r of rows) {
    const ratio = r.ratio
    console.log(
      `${r.name.padEnd(18)} ${fmt(r.raw).padStart(9)}   ${fmt(r.hybrid).padStart(12)}  ${ratio.toFixed(2).padStart(10)}  (${ratio >= 1 ? '' : '+'}${((1 / ratio - 1) * 100).toFixed(0)}%)`,
    )
  }
  console.log(`write-through namespace (RAM + disk): put ${fmt(wtPut)} ops/s, get (RAM hit) ${fmt(wtGet)} ops/s`)
  console.log(
    "('RAM put' copies each value, the default; 'no copy' is copyValues: false, which stores the caller's array as lru-cache does)",
  )
  const blobs = await blobBench()
  console.log('')
  console.log(`blob put (local, hash + write):        ${blobs.putMBs.toFixed(0)} MB/s`)
  console.log(`blob get (local, read + verify):       ${blobs.getMBs.toFixed(0)} MB/s`)
  console.log(`blob fetch (2 nodes, 127.0.0.1, ${blobs.chunks} chunks): ${blobs.fetchMBs.toFixed(0)} MB/s`)
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
