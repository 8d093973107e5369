import fc from 'fast-check'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createMemory, createMemoryBudget, type EvictEvent, type Memory } from '../src/index.js'
import { removeTempDirs, tempDir } from './fixtures/tmp.js'

let open: Memory[] = []
afterEach(async () => {
  await Promise.all(open.map((m) => m.stop()))
  open = []
})
afterAll(removeTempDirs)

async function start(init: Parameters<typeof createMemory>[0]): Promise<Memory> {
  const memory = createMemory(init)
  await memory.start()
  open.push(memory)
  return memory
}

// every entry below is 1000 value bytes + 2 key chars = 1004 bytes
const KB = (i: number) => new Uint8Array(1000).fill(i % 256)
const key = (i: number) => String(i).padStart(2, '0')

describe('a RAM budget shared by several stores', () => {
  it('caps the RAM held by all stores together, taking bytes from the store furthest over its reservation', async () => {
    const budget = createMemoryBudget({ maxBytes: 20_080 }) // room for 20 entries
    const models = await start({ path: tempDir('models'), budget })
    const peers = await start({ path: tempDir('peers'), budget })
    const evicted: EvictEvent[] = []
    models.addEventListener('evict', (e) => evicted.push(e.detail))

    const weights = models.namespace('weights')
    const table = peers.namespace('table', { ram: { reservedBytes: 5 * 1004 } })
    for (let i = 0; i < 5; i++) await table.put(key(i), KB(i))
    // the model cache fills the rest of the budget, then keeps going
    for (let i = 0; i < 40; i++) await weights.put(key(i), KB(i))

    expect(budget.usedBytes).toBeLessThanOrEqual(20_080)
    expect(table.stats().ramEntries).toBe(5) // the small cache kept its share
    expect(weights.stats().ramEntries).toBe(15)
    expect(evicted.length).toBe(25)
    expect(evicted.every((e) => e.reason === 'budget' && e.namespace === 'weights')).toBe(true)
    expect(evicted[0]?.key).toBe('00') // least recently used first

    // the peer table can still grow up to its reservation... and takes room from the models beyond it
    for (let i = 5; i < 10; i++) await table.put(key(i), KB(i))
    expect(table.stats().ramEntries).toBe(10)
    expect(weights.stats().ramEntries).toBe(10)
    expect(budget.stats()).toMatchObject({ maxBytes: 20_080, usedBytes: 20 * 1004, reservedBytes: 5 * 1004 })

    // everything evicted from RAM is still on disk
    expect(weights.get('00')).toEqual(KB(0))
    expect(budget.usedBytes).toBeLessThanOrEqual(20_080)
  })

  it('a RAM-only namespace that cannot get room fails with BudgetExceededError; reservations are checked', async () => {
    const budget = createMemoryBudget({ maxBytes: 5_100 })
    const a = await start({ path: tempDir('a'), budget })
    const b = await start({ path: tempDir('b'), budget })
    const pinned = a.namespace('pinned', { tiers: 'ram', ram: { reservedBytes: 4_016 } })
    for (let i = 0; i < 4; i++) await pinned.put(key(i), KB(i))
    const scratch = b.namespace('scratch', { tiers: 'ram' })
    await scratch.put('00', KB(0)) // fits in the unreserved part
    await expect(scratch.put('01', new Uint8Array(2_000))).rejects.toMatchObject({
      name: 'BudgetExceededError',
      tier: 'ram',
    })
    expect(pinned.stats().ramEntries).toBe(4)
    expect(() => b.namespace('greedy', { ram: { reservedBytes: 2_000 } })).toThrow(
      expect.objectContaining({ name: 'BudgetExceededError' }),
    )
    expect(() => createMemoryBudget({ maxBytes: -1 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
  })

  it('stopping a store gives its bytes back to the budget', async () => {
    const budget = createMemoryBudget({ maxBytes: 100_000 })
    const a = await start({ path: tempDir('a'), budget })
    const ns = a.namespace('n')
    for (let i = 0; i < 10; i++) await ns.put(key(i), KB(i))
    expect(budget.usedBytes).toBe(10 * 1004)
    await ns.delete('00')
    expect(budget.usedBytes).toBe(9 * 1004)
    await a.stop()
    expect(budget.usedBytes).toBe(0)
    expect(budget.stats().consumers).toEqual([])
  })

  it('property: under any sequence of puts, deletes and reads, the budget equals what the caches hold and never exceeds its limit', async () => {
    const budget = createMemoryBudget({ maxBytes: 6_000 })
    const a = await start({ path: tempDir('a'), budget, disk: { durability: 'commit' } })
    const b = await start({ path: tempDir('b'), budget, disk: { durability: 'commit' } })
    const spaces = [
      a.namespace('x', { ram: { maxBytes: 4_000 } }),
      a.namespace('y', { tiers: 'ram', ram: { reservedBytes: 1_000 } }),
      b.namespace('z', { ram: { reservedBytes: 500 } }),
    ]
    const op = fc.record({
      ns: fc.nat({ max: 2 }),
      kind: fc.constantFrom('put', 'put', 'put', 'delete', 'get'),
      key: fc.nat({ max: 30 }).map(String),
      size: fc.nat({ max: 1_500 }),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        for (const { ns, kind, key, size } of ops) {
          const space = spaces[ns]!
          if (kind === 'put')
            await space.put(key, new Uint8Array(size)).catch((err: unknown) => {
              expect((err as Error).name).toBe('BudgetExceededError') // RAM-only, no room
            })
          else if (kind === 'delete') await space.delete(key)
          else space.get(key)
          const held = spaces.reduce((n, s) => n + s.stats().ramBytes, 0)
          expect(budget.usedBytes).toBe(held)
          expect(budget.usedBytes).toBeLessThanOrEqual(6_000)
        }
      }),
      { numRuns: 300 },
    )
  })
})
