import { describe, expect, it } from 'vitest'
import { createModel, mlp, modelHash, softmaxRegression } from '../src/models/index.js'
import {
  createModelRegistry,
  type ModelStateChange,
  type ModelVersion,
  memoryRegistryStore,
  type RegistryStore,
} from '../src/registry/index.js'

const arch = mlp(8, [6], 3)
const m = (seed: number) => createModel(arch, { seed })
let clock = 1_700_000_000_000
const now = () => clock++

describe('model registry', () => {
  it('registers versions 1, 2, 3 with content hashes and lineage to the latest by default', async () => {
    const registry = createModelRegistry({}, { now })
    const versions: ModelVersion[] = []
    registry.addEventListener('version', (e) => versions.push(e.detail))
    const v1 = await registry.registerVersion('digits', m(1))
    const v2 = await registry.registerVersion('digits', m(2), { metadata: { round: 1, accuracy: 0.9 } })
    const v3 = await registry.registerVersion('digits', m(3))
    expect([v1.version, v2.version, v3.version]).toEqual([1, 2, 3])
    expect(v1.hash).toBe(modelHash(m(1)))
    expect(v1.parent).toBeUndefined()
    expect(v2.parent).toBe(v1.hash)
    expect(v3.parent).toBe(v2.hash)
    expect(v2.metadata).toEqual({ round: 1, accuracy: 0.9 })
    expect(versions).toEqual([v1, v2, v3])
    expect(registry.lineage({ name: 'digits' })).toEqual([v3, v2, v1])
    expect(registry.lineage({ name: 'digits', version: 2 })).toEqual([v2, v1])
    expect(registry.version(v2.hash)).toEqual(v2)
    expect(registry.version({ name: 'digits' })).toEqual(v3)
    expect(registry.model('digits')?.architecture).toEqual(arch)
    // the same parameters again: the existing version, no event
    expect(await registry.registerVersion('digits', m(2))).toEqual(v2)
    expect(versions).toHaveLength(3)
    // loaded parameters are a copy with the same hash
    const loaded = await registry.load({ name: 'digits', version: 1 })
    expect(modelHash(loaded)).toBe(v1.hash)
  })

  it('lineage crosses names (a personalized model derives from a global one); null makes a root', async () => {
    const registry = createModelRegistry()
    const g = await registry.registerVersion('global', m(1))
    const p = await registry.registerVersion('client-7', m(2), { parent: g.hash })
    const q = await registry.registerVersion('client-7', m(3))
    const root = await registry.registerVersion('client-7', m(4), { parent: null })
    expect(registry.lineage({ name: 'client-7', version: 2 }).map((v) => `${v.name}@${v.version}`)).toEqual([
      'client-7@2',
      'client-7@1',
      'global@1',
    ])
    expect(q.parent).toBe(p.hash)
    expect(root.parent).toBeUndefined()
    expect(registry.lineage(root.hash)).toEqual([root])
  })

  it('several models share one node, each with its own observable state', async () => {
    const registry = createModelRegistry()
    await registry.registerArchitecture('a', arch, { description: 'digits MLP' })
    await registry.registerArchitecture('b', softmaxRegression(8, 3))
    const changes: ModelStateChange[] = []
    registry.addEventListener('state', (e) => changes.push(e.detail))
    registry.setState('a', 'training')
    const result = await registry.track('b', 'evaluating', async () => {
      expect(registry.state('b')).toBe('evaluating')
      return 42
    })
    expect(result).toBe(42)
    await expect(
      registry.track('a', 'aggregating', () => {
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(registry.state('a')).toBe('training') // restored after the failure
    registry.setState('a', 'idle')
    registry.setState('a', 'idle') // no change, no event
    expect(changes).toEqual([
      { name: 'a', state: 'training', previous: 'idle' },
      { name: 'b', state: 'evaluating', previous: 'idle' },
      { name: 'b', state: 'idle', previous: 'evaluating' },
      { name: 'a', state: 'aggregating', previous: 'training' },
      { name: 'a', state: 'training', previous: 'aggregating' },
      { name: 'a', state: 'idle', previous: 'training' },
    ])
    expect(registry.models().map((x) => x.name)).toEqual(['a', 'b'])
    expect(registry.model('a')?.description).toBe('digits MLP')
  })

  it('typed errors for wrong architectures, unknown parents and names, bad names', async () => {
    const registry = createModelRegistry()
    await registry.registerVersion('a', m(1))
    await expect(registry.registerArchitecture('a', softmaxRegression(8, 3))).rejects.toMatchObject({
      name: 'ModelExistsError',
    })
    expect((await registry.registerArchitecture('a', arch)).name).toBe('a') // same architecture: fine
    await expect(
      registry.registerVersion('a', createModel(softmaxRegression(8, 3), { seed: 1 })),
    ).rejects.toMatchObject({ name: 'ArchitectureMismatchError' })
    await expect(registry.registerVersion('a', m(2), { parent: 'f'.repeat(64) })).rejects.toMatchObject({
      name: 'UnknownVersionError',
    })
    await expect(registry.registerVersion('a', m(2), { parent: 'not-a-hash' })).rejects.toMatchObject({
      name: 'ConfigError',
    })
    await expect(registry.registerVersion('a/b', m(2))).rejects.toMatchObject({ name: 'ConfigError' })
    expect(() => registry.setState('nope', 'training')).toThrow(expect.objectContaining({ name: 'UnknownModelError' }))
    expect(() => registry.lineage({ name: 'nope' })).toThrow(expect.objectContaining({ name: 'UnknownModelError' }))
    expect(() => registry.lineage({ name: 'a', version: 9 })).toThrow(
      expect.objectContaining({ name: 'UnknownVersionError' }),
    )
    await expect(registry.load('0'.repeat(64))).rejects.toMatchObject({ name: 'UnknownVersionError' })
    // a failed registration does not block the next one
    expect((await registry.registerVersion('a', m(3))).version).toBe(2)
  })

  it('persists through an injected store and loads it back on start()', async () => {
    const store = memoryRegistryStore()
    const first = createModelRegistry({}, { store, now })
    await expect(first.registerVersion('a', m(1))).rejects.toMatchObject({ name: 'RegistryNotStartedError' })
    await first.start()
    const v1 = await first.registerVersion('a', m(1))
    const v2 = await first.registerVersion('a', m(2), { metadata: { note: 'fine-tuned' } })
    const g = await first.registerVersion('b', m(3), { parent: v1.hash })
    await first.stop()
    expect(store.size).toBe(2 + 3 + 3) // two models, three versions, three blobs

    const second = createModelRegistry({ cacheModels: false }, { store })
    await second.start()
    expect(second.versions('a')).toEqual([v1, v2])
    expect(second.lineage({ name: 'b' })).toEqual([g, v1])
    expect(modelHash(await second.load({ name: 'a', version: 2 }))).toBe(v2.hash)
    // the next version continues the numbering
    expect((await second.registerVersion('a', m(4))).version).toBe(3)
  })

  it('rejects stored parameters that do not match their hash', async () => {
    const inner = memoryRegistryStore()
    const registry = createModelRegistry({ cacheModels: false }, { store: inner })
    await registry.start()
    const v = await registry.registerVersion('a', m(1))
    const blob = (await inner.get(`blobs/${v.hash}`))!
    blob[blob.length - 1]! ^= 1
    await inner.put(`blobs/${v.hash}`, blob)
    await expect(registry.load(v.hash)).rejects.toMatchObject({ name: 'HashMismatchError' })
  })

  it('a store is any key/value of bytes', async () => {
    const files = new Map<string, Uint8Array>()
    const store: RegistryStore = {
      get: async (k) => files.get(k),
      put: async (k, v) => void files.set(k, v),
      keys: async (p) => [...files.keys()].filter((k) => k.startsWith(p)),
    }
    const registry = createModelRegistry({}, { store })
    await registry.start()
    await registry.registerVersion('x', m(1))
    expect([...files.keys()].sort()).toEqual([`blobs/${modelHash(m(1))}`, 'models/x', 'versions/x/0000000001'])
  })
})
