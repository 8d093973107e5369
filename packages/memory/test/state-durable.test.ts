/**
 * State snapshots that must survive a power loss: a state store opened with `durable: true`
 * resolves its writes only once LMDB fsync'ed them, even in a store whose `disk.durability` is
 * `commit`; and `move` sets a snapshot aside under another key without decoding it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CorruptedValueError, createMemory, type Memory } from '../src/index.js'
import { removeTempDirs, tempDir } from './fixtures/tmp.js'

let open: Memory[] = []
afterEach(async () => {
  await Promise.all(open.map((m) => m.stop()))
  open = []
})
afterAll(removeTempDirs)

async function start(path: string, durability?: 'commit' | 'flush'): Promise<Memory> {
  const memory = createMemory(durability === undefined ? { path } : { path, disk: { durability } })
  await memory.start()
  open.push(memory)
  return memory
}

/** The LMDB root of a started store, with a count of the writes that waited for its fsync. */
function watchFlushes(memory: Memory): { waited: () => number } {
  const root = (memory as unknown as { environment: { root: { flushed: Promise<unknown> } } }).environment.root
  let waited = 0
  const proto = Object.getPrototypeOf(root) as object
  const descriptor = Object.getOwnPropertyDescriptor(root, 'flushed') ?? findDescriptor(proto, 'flushed') ?? undefined
  Object.defineProperty(root, 'flushed', {
    configurable: true,
    get() {
      waited++
      return descriptor?.get !== undefined ? descriptor.get.call(root) : descriptor?.value
    },
  })
  return { waited: () => waited }
}

function findDescriptor(o: object | null, key: string): PropertyDescriptor | undefined {
  for (let p = o; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    const d = Object.getOwnPropertyDescriptor(p, key)
    if (d !== undefined) return d
  }
  return undefined
}

const Job = z.object({ round: z.number().int() })

describe('durable state snapshots', () => {
  it('a durable state store waits for the fsync in a store that acknowledges on commit', async () => {
    const memory = await start(tempDir(), 'commit')
    const flushes = watchFlushes(memory)
    const plain = memory.state('plain', { schema: Job, version: 1 })
    await plain.save('a', { round: 1 })
    expect(flushes.waited()).toBe(0) // `commit`: acknowledged before the fsync
    const durable = memory.state('durable', { schema: Job, version: 1, durable: true })
    expect(durable.durable).toBe(true)
    await durable.save('a', { round: 1 })
    expect(flushes.waited()).toBe(1)
    await durable.delete('a')
    expect(flushes.waited()).toBe(2)
  })

  it('a store with the default durability (flush) already waits for the fsync of every save', async () => {
    const memory = await start(tempDir())
    const flushes = watchFlushes(memory)
    await memory.state('plain', { schema: Job, version: 1 }).save('a', { round: 1 })
    expect(flushes.waited()).toBeGreaterThan(0)
  })

  it('move sets every revision of a key aside, undecoded, after the target’s own revisions', async () => {
    const path = tempDir()
    let memory = await start(path)
    let jobs = memory.state('jobs', { schema: Job, version: 1, durable: true })
    await jobs.save('a', { round: 1 })
    await jobs.save('a', { round: 2 })
    await jobs.save('quarantine.a', { round: 9 })
    // damage the latest revision of `a`
    const env = (memory as unknown as { environment: { state: { putSync(k: unknown, v: Buffer): void } } }).environment
    env.state.putSync(['jobs', 'a', 2], Buffer.from([0xff, 0x00, 0x13]))
    expect(() => jobs.restore('a')).toThrow(CorruptedValueError)
    expect(await jobs.move('a', 'quarantine.a')).toBe(2)
    expect(jobs.restore('a')).toBeUndefined()
    expect(jobs.keys()).toEqual(['quarantine.a'])
    await memory.stop()
    open = []
    memory = await start(path)
    jobs = memory.state('jobs', { schema: Job, version: 1 })
    expect(jobs.revisions('quarantine.a').map((r) => r.revision)).toEqual([3, 2, 1])
    expect(jobs.restore('quarantine.a', { revision: 2 })?.value).toEqual({ round: 1 })
    expect(() => jobs.restore('quarantine.a')).toThrow(CorruptedValueError)
    await expect(jobs.move('quarantine.a', 'quarantine.a')).rejects.toThrow(/onto itself/)
  })
})
