/**
 * Deep input: JSON read from a peer (secure-aggregation headers), a model file (the architecture
 * header) or a registry store nested far deeper than any valid value is refused with the typed
 * error before anything recurses into it — never a RangeError.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { jsonNestingDepth } from '../src/internal/json-depth.js'
import { createModel, decodeModel, encodeModel, MODEL_MAGIC, mlp } from '../src/models/index.js'
import { createModelRegistry, MAX_METADATA_DEPTH, memoryRegistryStore } from '../src/registry/index.js'
import { decodeSecAggFrame, MAX_SECAGG_HEADER_DEPTH, SecAggRequestSchema } from '../src/round/index.js'

const utf8 = new TextEncoder()
const nestedJson = (depth: number, inner = '0'): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`

/** A secure-aggregation frame whose header is `text`. */
function frame(text: string): Uint8Array {
  const json = utf8.encode(text)
  const out = new Uint8Array(4 + json.byteLength)
  new DataView(out.buffer).setUint32(0, json.byteLength)
  out.set(json, 4)
  return out
}

/** A serialized model whose architecture header is `text` (and no tensors). */
function modelWithArchitecture(text: string): Uint8Array {
  const arch = utf8.encode(text)
  const out = new Uint8Array(12 + arch.byteLength + 4)
  out.set(MODEL_MAGIC, 0)
  const view = new DataView(out.buffer)
  view.setUint8(4, 1)
  view.setUint8(5, 1)
  view.setUint32(8, arch.byteLength, true)
  out.set(arch, 12)
  return out
}

/** What `fn` throws (fails when it returns). */
async function thrown(fn: () => unknown): Promise<Error> {
  try {
    await fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a throw')
}

/** The error's message and its causes' messages, joined. */
function messages(err: unknown): string {
  const out: string[] = []
  for (let e = err as Error | undefined; e !== undefined; e = e.cause as Error | undefined) {
    out.push(`${e.name}: ${e.message}`)
  }
  return out.join(' <- ')
}

describe('deep input is refused with the typed error', () => {
  it('a secure-aggregation header nested 100,000 deep is InvalidSecAggMessageError', async () => {
    const err = await thrown(() => decodeSecAggFrame(frame(nestedJson(100_000)), SecAggRequestSchema))
    expect(err).not.toBeInstanceOf(RangeError)
    expect(err.name).toBe('InvalidSecAggMessageError')
    expect(err.message).toMatch(`nested deeper than ${MAX_SECAGG_HEADER_DEPTH} levels`)
  })

  it('property: a header of any depth is InvalidSecAggMessageError, naming the depth past the bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(200), fc.constantFrom('0', '"]]]\\"[["', '{}'), async (depth, inner) => {
        const err = await thrown(() => decodeSecAggFrame(frame(nestedJson(depth, inner)), SecAggRequestSchema))
        expect(err.name).toBe('InvalidSecAggMessageError')
        const innerDepth = inner === '{}' ? 1 : 0
        expect(/nested deeper than/.test(err.message)).toBe(depth + innerDepth > MAX_SECAGG_HEADER_DEPTH)
      }),
      { numRuns: 300 },
    )
  })

  it('a model whose architecture header nests 30,000 deep (within its 64 KiB) is InvalidModelError', async () => {
    const err = await thrown(() => decodeModel(modelWithArchitecture(nestedJson(30_000))))
    expect(err.name).toBe('InvalidModelError')
    expect(messages(err)).toMatch('nested deeper than 16 levels')
    expect(messages(err)).not.toMatch('RangeError')
    // and a valid model still decodes
    const model = createModel(mlp(4, [3], 2), { seed: 1 })
    expect(decodeModel(encodeModel(model)).architecture).toEqual(model.architecture)
  })

  it('a registry record nested 100,000 deep fails start() with ConfigError', async () => {
    const store = memoryRegistryStore()
    await store.put('models/x', utf8.encode(`{"name":"x","architecture":${nestedJson(100_000)}}`))
    const err = await thrown(() => createModelRegistry({}, { store }).start())
    expect(err.name).toBe('ConfigError')
    expect(err.message).toMatch('registry record models/x is damaged: nested deeper than')
  })

  it('version metadata nests at most MAX_METADATA_DEPTH levels, so every stored record loads again', async () => {
    const deep = (levels: number) => {
      let value: unknown = 1
      for (let i = 0; i < levels; i++) value = { a: value }
      return value as Record<string, never>
    }
    const store = memoryRegistryStore()
    const registry = createModelRegistry({}, { store })
    await registry.start()
    const model = createModel(mlp(4, [3], 2), { seed: 1 })
    const err = await thrown(() => registry.registerVersion('m', model, { metadata: { a: deep(MAX_METADATA_DEPTH) } }))
    expect(err.name).toBe('ConfigError')
    expect(err.message).toMatch(`at most ${MAX_METADATA_DEPTH} levels`)
    const v = await registry.registerVersion('m', model, { metadata: { a: deep(MAX_METADATA_DEPTH - 1) } })
    await registry.stop()
    const again = createModelRegistry({}, { store })
    await again.start()
    expect(again.versions('m')).toEqual([v])
  })

  it('jsonNestingDepth counts brackets outside strings only', () => {
    expect(jsonNestingDepth('0')).toBe(0)
    expect(jsonNestingDepth(String.raw`{"a": "[[[{{{", "b": "\\", "c": [{"d": "\"]]"}]}`)).toBe(3)
    expect(jsonNestingDepth(nestedJson(100_000))).toBe(100_000)
    expect(jsonNestingDepth('['.repeat(100_000), 16)).toBe(17)
    const depthOf = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (value) => {
        expect(jsonNestingDepth(JSON.stringify(value))).toBe(depthOf(value))
      }),
      { numRuns: 500 },
    )
  })
})
