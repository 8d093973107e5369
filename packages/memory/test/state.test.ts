import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemory, type Memory, SchemaMismatchError } from '../src/index.js'
import { fakeClock, removeTempDirs, tempDir } from './fixtures/tmp.js'

let open: Memory[] = []
afterEach(async () => {
  await Promise.all(open.map((m) => m.stop()))
  open = []
})
afterAll(removeTempDirs)

async function start(path: string, now?: () => number): Promise<Memory> {
  const memory = createMemory(now === undefined ? { path } : { path, now })
  await memory.start()
  open.push(memory)
  return memory
}

const RoundV1 = z.object({
  job: z.string(),
  round: z.number().int().nonnegative(),
  optimizer: z.object({ momentum: z.instanceof(Float32Array), step: z.bigint() }),
  peers: z.map(z.string(), z.object({ rtt: z.number(), seen: z.date() })),
})

function roundState(round: number) {
  return {
    job: 'job-7',
    round,
    optimizer: { momentum: new Float32Array([round, 0.5, -1]), step: BigInt(round) * 10n },
    peers: new Map([['12D3KooWA', { rtt: 12.5, seen: new Date(1_700_000_000_000 + round) }]]),
  }
}

describe('versioned state snapshots', () => {
  it('saves revisions, keeps the last `history`, restores typed values after a restart', async () => {
    const clock = fakeClock()
    const path = tempDir()
    let memory = await start(path, clock.now)
    const rounds = memory.state('rounds', { schema: RoundV1, version: 1, history: 3 })
    for (let r = 1; r <= 5; r++) {
      const saved = await rounds.save('job-7', roundState(r))
      expect(saved).toMatchObject({ key: 'job-7', revision: r, version: 1 })
      clock.advance(1_000)
    }
    await rounds.save('job-8', roundState(0))
    expect(rounds.revisions('job-7').map((r) => r.revision)).toEqual([5, 4, 3])
    expect(rounds.keys()).toEqual(['job-7', 'job-8'])
    await memory.stop()

    memory = await start(path, clock.now)
    const again = memory.state('rounds', { schema: RoundV1, version: 1, history: 3 })
    const latest = again.restore('job-7')!
    expect(latest.revision).toBe(5)
    expect(latest.value).toEqual(roundState(5))
    expect(latest.value.optimizer.momentum).toBeInstanceOf(Float32Array)
    expect(latest.savedAt).toBe(1_700_000_000_000 + 4_000)
    expect(again.restore('job-7', { revision: 3 })!.value.round).toBe(3)
    expect(again.restore('job-7', { revision: 1 })).toBeUndefined() // pruned
    expect(again.restore('nobody')).toBeUndefined()
    await again.delete('job-7')
    expect(again.restore('job-7')).toBeUndefined()
    expect(again.keys()).toEqual(['job-8'])
  })

  it('refuses to save state that breaks the schema, and nothing is written', async () => {
    const memory = await start(tempDir())
    const rounds = memory.state('rounds', { schema: RoundV1, version: 1 })
    const bad = { ...roundState(1), round: -1 }
    const err = await rounds.save('job-7', bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SchemaMismatchError)
    expect((err as SchemaMismatchError).issues.join()).toMatch(/round/)
    expect(rounds.revisions('job-7')).toEqual([])
  })

  it('checks the schema version on restore: migrates older snapshots, refuses newer ones and missing migrations', async () => {
    const path = tempDir()
    let memory = await start(path)
    const V1 = z.object({ round: z.number() })
    await memory.state('jobs', { schema: V1, version: 1 }).save('a', { round: 4 })
    await memory.stop()

    // version 3 of the code: round became an object, with migrations 1→2→3
    memory = await start(path)
    const V3 = z.object({ progress: z.object({ round: z.number(), of: z.number() }) })
    const migrated = memory.state('jobs', {
      schema: V3,
      version: 3,
      migrations: {
        1: (s) => ({ progress: (s as { round: number }).round }),
        2: (s) => ({ progress: { round: (s as { progress: number }).progress, of: 30 } }),
      },
    })
    const restored = migrated.restore('a')!
    expect(restored.version).toBe(1) // as saved
    expect(restored.value).toEqual({ progress: { round: 4, of: 30 } })
    await migrated.save('a', restored.value)
    await memory.stop()

    // the old code sees a snapshot from the future
    memory = await start(path)
    const old = memory.state('jobs', { schema: V1, version: 1 })
    expect(() => old.restore('a')).toThrow(expect.objectContaining({ name: 'SchemaMismatchError' }))
    expect(old.restore('a', { revision: 1 })!.value).toEqual({ round: 4 })
    await memory.stop()

    // no migration path, or a schema the data does not satisfy
    memory = await start(path)
    const noPath = memory.state('jobs', { schema: V3, version: 4 })
    expect(() => noPath.restore('a')).toThrow(/no migration from schema version 3 to 4/)
    await memory.stop()
    memory = await start(path)
    const wrongShape = memory.state('jobs', { schema: z.object({ progress: z.string() }), version: 3 })
    expect(() => wrongShape.restore('a')).toThrow(expect.objectContaining({ name: 'SchemaMismatchError' }))
  })

  it('rejects bad options and keys with typed errors', async () => {
    const memory = await start(tempDir())
    expect(() => memory.state('Bad', { schema: z.object({}), version: 1 })).toThrow(
      expect.objectContaining({ name: 'InvalidKeyError' }),
    )
    expect(() => memory.state('ok', { schema: {} as any, version: 1 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
    expect(() => memory.state('ok2', { schema: z.object({}), version: 0 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
    const s = memory.state('ok3', { schema: z.object({ f: z.any() }), version: 1, maxBytes: 100 })
    await expect(s.save('', { f: 1 })).rejects.toMatchObject({ name: 'InvalidKeyError' })
    await expect(s.save('k', { f: new Uint8Array(200) })).rejects.toMatchObject({ name: 'ValueTooLargeError' })
    await expect(s.save('k', { f: () => 1 })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    expect(() => s.restore('k', { revision: 0 })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })
})
