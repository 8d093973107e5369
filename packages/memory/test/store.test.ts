import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  createMemory,
  type EvictEvent,
  type ExpireEvent,
  type Memory,
  StoreClosedError,
  ValueTooLargeError,
} from '../src/index.js'
import { fakeClock, removeTempDirs, tempDir } from './fixtures/tmp.js'

const bytes = (...b: number[]) => new Uint8Array(b)
const text = (s: string) => new TextEncoder().encode(s)

let open: Memory[] = []
async function start(init: Parameters<typeof createMemory>[0]): Promise<Memory> {
  const memory = createMemory(init)
  await memory.start()
  open.push(memory)
  return memory
}
afterEach(async () => {
  await Promise.all(open.map((m) => m.stop()))
  open = []
})
afterAll(removeTempDirs)

describe('hybrid store: RAM tier over LMDB', () => {
  it('writes through to disk, reads promote into RAM, and values survive a restart', async () => {
    const path = tempDir()
    let memory = await start({ path })
    const ns = memory.namespace('models')
    await ns.put('w1', bytes(1, 2, 3))
    expect(ns.get('w1')).toEqual(bytes(1, 2, 3))
    expect(ns.stats()).toMatchObject({ ramHits: 1, diskHits: 0, writes: 1 })
    await memory.stop()

    memory = await start({ path })
    const again = memory.namespace('models')
    expect(again.stats().ramEntries).toBe(0)
    expect(again.get('w1')).toEqual(bytes(1, 2, 3)) // from disk
    expect(again.get('w1')).toEqual(bytes(1, 2, 3)) // promoted: from RAM
    expect(again.stats()).toMatchObject({ diskHits: 1, ramHits: 1, ramEntries: 1 })
    expect(again.get('missing')).toBeUndefined()
    expect(memory.stats()).toMatchObject({ misses: 1, disk: { entries: 1, hits: 1 }, ram: { hits: 1, entries: 1 } })
  })

  it('keeps namespaces apart; keys, has, delete and clear', async () => {
    const memory = await start({ path: tempDir() })
    const a = memory.namespace('a')
    const b = memory.namespace('b')
    await Promise.all([a.put('x/1', bytes(1)), a.put('x/2', bytes(2)), a.put('y', bytes(3)), b.put('x/1', bytes(9))])
    expect(a.keys()).toEqual(['x/1', 'x/2', 'y'])
    expect(a.keys({ prefix: 'x/' })).toEqual(['x/1', 'x/2'])
    expect(a.keys({ limit: 1 })).toEqual(['x/1'])
    expect(b.get('x/1')).toEqual(bytes(9))
    await a.delete('x/1')
    expect(a.has('x/1')).toBe(false)
    expect(a.get('x/1')).toBeUndefined()
    await a.clear()
    expect(a.keys()).toEqual([])
    expect(b.keys()).toEqual(['x/1'])
    expect(memory.namespace('a')).toBe(a)
  })

  it('returns values the caller cannot corrupt by reusing its buffer', async () => {
    const memory = await start({ path: tempDir() })
    const ns = memory.namespace('n')
    const buffer = bytes(1, 2, 3)
    await ns.put('k', buffer)
    buffer.fill(0)
    expect(ns.get('k')).toEqual(bytes(1, 2, 3))
  })

  it('expires entries in RAM and on disk (TTL), reports them and sweeps the disk', async () => {
    const clock = fakeClock()
    const path = tempDir()
    let memory = await start({ path, now: clock.now, sweepIntervalMs: 0 })
    const expired: ExpireEvent[] = []
    memory.addEventListener('expire', (e) => expired.push(e.detail))
    const ns = memory.namespace('sessions', { ttlMs: 1_000 })
    await ns.put('short', bytes(1))
    await ns.put('long', bytes(2), { ttlMs: 10_000 })
    await ns.put('forever', bytes(3), { ttlMs: 0 })
    clock.advance(1_001)
    // RAM tier: the entry is gone
    expect(ns.get('short')).toBeUndefined()
    expect(ns.get('long')).toEqual(bytes(2))
    expect(expired).toContainEqual({ namespace: 'sessions', key: 'short', tier: 'ram' })

    // disk tier: after a restart (empty RAM) the TTL still holds
    await memory.stop()
    memory = await start({ path, now: clock.now, sweepIntervalMs: 0 })
    const diskExpired: ExpireEvent[] = []
    memory.addEventListener('expire', (e) => diskExpired.push(e.detail))
    const again = memory.namespace('sessions', { ttlMs: 1_000 })
    expect(again.has('short')).toBe(false)
    expect(again.get('short')).toBeUndefined()
    clock.advance(10_000)
    expect(again.keys()).toEqual(['forever'])
    expect(await memory.sweep()).toBeGreaterThanOrEqual(1)
    expect(diskExpired).toContainEqual({ namespace: 'sessions', key: 'long', tier: 'disk' })
    expect(again.get('forever')).toEqual(bytes(3))
    expect(memory.stats().disk.entries).toBe(1)
    // 'short' was dropped from disk in the first session, when the RAM miss fell through to it
    expect(memory.stats().disk.expirations).toBe(1)
  })

  it('a rewrite of a key wins over its old expiry', async () => {
    const clock = fakeClock()
    const memory = await start({ path: tempDir(), now: clock.now, sweepIntervalMs: 0 })
    const ns = memory.namespace('n', { tiers: 'disk' })
    await ns.put('k', bytes(1), { ttlMs: 100 })
    await ns.put('k', bytes(2)) // no TTL now
    clock.advance(1_000)
    await memory.sweep()
    expect(ns.get('k')).toEqual(bytes(2))
  })

  it('evicts least recently used entries when the RAM tier is full, and reports them', async () => {
    const memory = await start({ path: tempDir() })
    const evicted: EvictEvent[] = []
    memory.addEventListener('evict', (e) => evicted.push(e.detail))
    // each entry: 100 value bytes + 2 key chars * 2 = 104 bytes; cap 520 = 5 entries
    const ns = memory.namespace('cache', { ram: { maxBytes: 520 } })
    for (let i = 0; i < 5; i++) await ns.put(`k${i}`, new Uint8Array(100).fill(i))
    expect(ns.get('k0')).toBeDefined() // k0 is now most recent; k1 least
    await ns.put('k5', new Uint8Array(100))
    expect(evicted).toEqual([{ namespace: 'cache', key: 'k1', bytes: 104, reason: 'capacity' }])
    expect(ns.stats()).toMatchObject({ ramEntries: 5, ramBytes: 520, evictions: 1 })
    // evicted from RAM only: still on disk
    expect(ns.get('k1')).toEqual(new Uint8Array(100).fill(1))
    expect(ns.stats().diskHits).toBe(1)
  })

  it('RAM-only and disk-only namespaces', async () => {
    const path = tempDir()
    let memory = await start({ path })
    const scratch = memory.namespace('scratch', { tiers: 'ram', ram: { maxBytes: 1_000 } })
    const cold = memory.namespace('cold', { tiers: 'disk' })
    await scratch.put('a', bytes(1))
    await cold.put('b', bytes(2))
    expect(scratch.get('a')).toEqual(bytes(1))
    expect(cold.get('b')).toEqual(bytes(2))
    expect(cold.stats()).toMatchObject({ ramEntries: 0, diskHits: 1 })
    await expect(scratch.put('big', new Uint8Array(2_000))).rejects.toBeInstanceOf(ValueTooLargeError)
    await memory.stop()
    memory = await start({ path })
    expect(memory.namespace('scratch', { tiers: 'ram', ram: { maxBytes: 1_000 } }).get('a')).toBeUndefined()
    expect(memory.namespace('cold', { tiers: 'disk' }).get('b')).toEqual(bytes(2))
  })

  it('write-back resolves at once and flush() waits for the disk', async () => {
    const path = tempDir()
    let memory = await start({ path, disk: { durability: 'commit' } })
    const ns = memory.namespace('wb', { writeMode: 'back' })
    for (let i = 0; i < 100; i++) void ns.put(`k${i}`, text(`v${i}`))
    expect(ns.get('k99')).toEqual(text('v99'))
    await memory.flush()
    await memory.stop()
    memory = await start({ path })
    expect(memory.namespace('wb').keys()).toHaveLength(100)
  })

  it('refuses writes over the disk budget without losing what is stored', async () => {
    const memory = await start({ path: tempDir(), disk: { maxBytes: 2 * 1024 * 1024 } })
    const ns = memory.namespace('n', { maxValueBytes: 4 * 1024 * 1024 })
    await ns.put('a', new Uint8Array(512 * 1024).fill(1))
    const err = await ns.put('b', new Uint8Array(3 * 1024 * 1024)).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'BudgetExceededError', tier: 'disk' })
    expect(Buffer.from(ns.get('a')!).equals(new Uint8Array(512 * 1024).fill(1))).toBe(true)
    expect(ns.has('b')).toBe(false)
  })

  it('rejects bad input with typed errors and stays usable', async () => {
    const memory = await start({ path: tempDir() })
    const ns = memory.namespace('n', { maxValueBytes: 10 })
    const cases: Array<[() => unknown, string]> = [
      [() => memory.namespace('Bad Name'), 'InvalidKeyError'],
      [() => memory.namespace('_internal'), 'InvalidKeyError'],
      [() => memory.namespace(''), 'InvalidKeyError'],
      [() => memory.namespace('ok', { tiers: 'tape' as any }), 'InvalidArgumentError'],
      [() => memory.namespace('ok2', { ttlMs: -1 }), 'InvalidArgumentError'],
      [() => ns.get(''), 'InvalidKeyError'],
      [() => ns.get(42 as any), 'InvalidKeyError'],
      [() => ns.get('x'.repeat(2_000)), 'InvalidKeyError'],
      [() => ns.get('\ud800'), 'InvalidKeyError'],
      [() => ns.keys({ limit: -1 }), 'InvalidArgumentError'],
      [() => createMemory({ path: '' }), 'InvalidArgumentError'],
      [() => createMemory({ path: 'x', disk: { durability: 'maybe' as any } }), 'InvalidArgumentError'],
    ]
    for (const [fn, name] of cases) expect(fn, name).toThrow(expect.objectContaining({ name }))
    await expect(ns.put('k', 'text' as any)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(ns.put('k', new Uint8Array(11))).rejects.toMatchObject({ name: 'ValueTooLargeError', limit: 10 })
    await expect(ns.put('k', bytes(1), { ttlMs: 1.5 })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await ns.put('k', bytes(1))
    expect(ns.get('k')).toEqual(bytes(1))
    expect(() => memory.namespace('n', { tiers: 'ram' })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
  })

  it('refuses use before start and after stop, and a second open of one path', async () => {
    const path = tempDir()
    const memory = createMemory({ path })
    expect(() => memory.namespace('a')).toThrow(StoreClosedError)
    await memory.start()
    const ns = memory.namespace('a')
    const twin = createMemory({ path })
    await expect(twin.start()).rejects.toMatchObject({ name: 'StorageError' })
    await memory.stop()
    await memory.stop()
    expect(() => ns.get('k')).toThrow(StoreClosedError)
    await expect(ns.put('k', bytes(1))).rejects.toBeInstanceOf(StoreClosedError)
  })

  it('exports a namespace as a blob and imports it elsewhere, with expiry times; a damaged export changes nothing', async () => {
    const clock = fakeClock()
    const source = await start({ path: tempDir('src'), now: clock.now })
    const peers = source.namespace('peers')
    await peers.put('a', text('alpha'))
    await peers.put('b', text('beta'), { ttlMs: 5_000 })
    await peers.put('gone', text('x'), { ttlMs: 10 })
    clock.advance(100)
    const { cid } = await source.exportNamespace('peers')
    expect(source.blobs.pins(cid)).toEqual(['namespace:peers'])
    const exported = await source.blobs.getBytes(cid)

    const target = await start({ path: tempDir('dst'), now: clock.now })
    await target.blobs.put(exported)
    expect(await target.importNamespace('copy', cid)).toEqual({ imported: 2, expired: 0 })
    const copy = target.namespace('copy')
    expect(copy.keys()).toEqual(['a', 'b'])
    expect(copy.get('a')).toEqual(text('alpha'))
    clock.advance(5_000) // b keeps its absolute expiry
    expect(copy.get('b')).toBeUndefined()

    const damaged = new Uint8Array(exported)
    damaged[damaged.length - 1] = 7 // the end marker
    const bad = await target.blobs.put(damaged)
    await expect(target.importNamespace('other', bad.cid)).rejects.toMatchObject({ name: 'CorruptedValueError' })
    expect(target.namespace('other').keys()).toEqual([])
    expect(() => source.namespace('scratch', { tiers: 'ram' })).not.toThrow()
    await expect(source.exportNamespace('scratch')).rejects.toMatchObject({ name: 'InvalidArgumentError' })
  })
})
