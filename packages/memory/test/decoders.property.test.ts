/**
 * Property tests for everything that decodes bytes or strings that may come from disk or from a
 * peer: any input gives a valid value or a typed error, never another kind of throw; valid
 * values round-trip.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  assertKey,
  chunkCid,
  createMemory,
  decodeManifest,
  decodeNamespaceExport,
  decodeRecord,
  decodeStateRecord,
  encodeManifest,
  encodeNamespaceExport,
  encodeRecord,
  encodeStateRecord,
  isMemoryError,
  MAX_KEY_BYTES,
  MAX_MANIFEST_DEPTH,
  MAX_STATE_DEPTH,
  type Memory,
  manifestCid,
  parseCid,
} from '../src/index.js'
import { removeTempDirs, tempDir } from './fixtures/tmp.js'

/** Run `fn`; a throw must be a typed error with one of `names`. */
function typedOrValue<T>(fn: () => T, names: string[]): T | undefined {
  try {
    return fn()
  } catch (err) {
    expect(isMemoryError(err), String(err)).toBe(true)
    expect(names).toContain((err as Error).name)
    return undefined
  }
}

const bytes = fc.uint8Array({ maxLength: 2048 })

describe('key/value record decoder', () => {
  it('round-trips any value and expiry', () => {
    fc.assert(
      fc.property(bytes, fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 50 })), (value, expiresAt) => {
        const record = encodeRecord(value, expiresAt)
        const view = decodeRecord(record)
        expect(view.expiresAt).toBe(expiresAt)
        expect(Buffer.from(record.subarray(view.offset)).equals(value)).toBe(true)
      }),
    )
  })

  it('any bytes: a record view or CorruptedValueError', () => {
    fc.assert(
      fc.property(bytes, (input) => {
        const view = typedOrValue(() => decodeRecord(input), ['CorruptedValueError'])
        if (view !== undefined) expect(view.offset).toBeLessThanOrEqual(input.byteLength)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('manifest decoder', () => {
  const chunkBytes = fc.integer({ min: 1024, max: 4 * 1024 * 1024 })
  const manifestArb = fc
    .tuple(chunkBytes, fc.array(bytes, { maxLength: 8 }), fc.integer({ min: 1, max: 1024 }))
    .map(([cb, chunks, lastLength]) => {
      const size = chunks.length === 0 ? 0 : cb * (chunks.length - 1) + Math.min(lastLength, cb)
      return { size, chunkBytes: cb, chunks: chunks.map((c) => chunkCid(c)) }
    })

  it('round-trips manifests; the CID of the bytes is stable', () => {
    fc.assert(
      fc.property(manifestArb, (manifest) => {
        const encoded = encodeManifest(manifest)
        const decoded = decodeManifest(encoded)
        expect(decoded.size).toBe(manifest.size)
        expect(decoded.chunks.map(String)).toEqual(manifest.chunks.map(String))
        expect(manifestCid(encodeManifest(decoded)).toString()).toBe(manifestCid(encoded).toString())
      }),
    )
  })

  it('any bytes, or a valid manifest with bytes flipped, cut or appended: a manifest or InvalidManifestError', () => {
    fc.assert(
      fc.property(
        manifestArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom('flip', 'cut', 'append'),
        (manifest, at, mask, how) => {
          const encoded = encodeManifest(manifest)
          const i = at % encoded.byteLength
          const damaged =
            how === 'flip'
              ? encoded.map((b, j) => (j === i ? b ^ mask : b))
              : how === 'cut'
                ? encoded.subarray(0, i)
                : new Uint8Array([...encoded, mask])
          typedOrValue(() => decodeManifest(damaged), ['InvalidManifestError'])
        },
      ),
      { numRuns: 1000 },
    )
    fc.assert(
      fc.property(bytes, (input) => {
        typedOrValue(() => decodeManifest(input), ['InvalidManifestError'])
      }),
      { numRuns: 2000 },
    )
  })
})

describe('CID parser', () => {
  it('any string or bytes: a CID of the right kind or InvalidCidError', () => {
    const valid = manifestCid(new Uint8Array([1, 2, 3])).toString()
    const strings = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
      fc
        .tuple(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }))
        .map(([n, c]) => valid.slice(0, n) + c + valid.slice(n + 1)),
    )
    fc.assert(
      fc.property(strings, fc.constantFrom('blob' as const, 'chunk' as const), (input, kind) => {
        const cid = typedOrValue(() => parseCid(input, kind), ['InvalidCidError'])
        if (cid !== undefined) expect(cid.code).toBe(kind === 'blob' ? 0x71 : 0x55)
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(fc.oneof(bytes, fc.anything()), (input) => {
        typedOrValue(() => parseCid(input, 'blob'), ['InvalidCidError'])
      }),
      { numRuns: 1000 },
    )
  })
})

describe('state record decoder', () => {
  it('round-trips JSON-like values and typed arrays', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.float32Array({ maxLength: 64, noDefaultInfinity: true }), (value, floats) => {
        const record = decodeStateRecord(encodeStateRecord(3, 1234, { value, floats }))
        expect(record.s).toBe(3)
        expect(record.d).toEqual({ value, floats })
      }),
    )
  })

  it('any bytes: a record or CorruptedValueError', () => {
    fc.assert(
      fc.property(bytes, (input) => {
        typedOrValue(() => decodeStateRecord(input), ['CorruptedValueError'])
      }),
      { numRuns: 2000 },
    )
  })
})

describe('namespace export decoder', () => {
  const entries = fc.array(
    fc.record({
      key: fc.string({ minLength: 1, maxLength: 40 }).filter((k) => k.isWellFormed()),
      value: bytes,
      expiresAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 50 })),
    }),
    { maxLength: 8 },
  )
  const collect = async (source: AsyncIterable<Uint8Array>) => {
    const out = []
    for await (const e of decodeNamespaceExport(source)) out.push(e)
    return out
  }
  const chunks = async function* (data: Uint8Array, size: number) {
    for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size)
  }
  const encoded = async (list: Array<{ key: string; value: Uint8Array; expiresAt: number }>) => {
    const parts: Uint8Array[] = []
    for await (const p of encodeNamespaceExport(list)) parts.push(p)
    return new Uint8Array(Buffer.concat(parts))
  }

  it('round-trips entries however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(entries, fc.integer({ min: 1, max: 64 }), async (list, cut) => {
        const decoded = await collect(chunks(await encoded(list), cut))
        expect(decoded.map((e) => [e.key, Buffer.from(e.value).toString('hex'), e.expiresAt])).toEqual(
          list.map((e) => [e.key, Buffer.from(e.value).toString('hex'), e.expiresAt]),
        )
      }),
      { numRuns: 200 },
    )
  })

  it('any bytes, or a valid export damaged: entries or CorruptedValueError', async () => {
    await fc.assert(
      fc.asyncProperty(entries, fc.nat(), fc.integer({ min: 1, max: 255 }), async (list, at, mask) => {
        const data = await encoded(list)
        const i = at % data.byteLength
        const flipped = data.map((b, j) => (j === i ? b ^ mask : b))
        for (const input of [flipped, data.subarray(0, i), new Uint8Array([...data, mask])]) {
          await collect(chunks(input, 7)).catch((err: unknown) => {
            expect((err as Error).name).toBe('CorruptedValueError')
          })
        }
      }),
      { numRuns: 300 },
    )
    await fc.assert(
      fc.asyncProperty(bytes, async (input) => {
        await collect(chunks(input, 5)).catch((err: unknown) => {
          expect((err as Error).name).toBe('CorruptedValueError')
        })
      }),
      { numRuns: 500 },
    )
  })
})

describe('keys and namespaces through the store', () => {
  let memory: Memory
  beforeAll(async () => {
    memory = createMemory({ path: tempDir('prop'), disk: { durability: 'commit' } })
    await memory.start()
  })
  afterAll(async () => {
    await memory.stop()
    removeTempDirs()
  })

  it('any key: stored and read back exactly, or InvalidKeyError with nothing stored', async () => {
    const ns = memory.namespace('prop', { tiers: 'disk' })
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 1200 }), fc.string({ unit: 'binary', maxLength: 400 })),
        bytes,
        async (key, value) => {
          let valid = true
          try {
            assertKey(key)
          } catch (err) {
            expect((err as Error).name).toBe('InvalidKeyError')
            valid = false
          }
          if (valid) {
            expect(Buffer.byteLength(key)).toBeLessThanOrEqual(MAX_KEY_BYTES)
            await ns.put(key, value)
            expect(Buffer.from(ns.get(key)!).equals(value)).toBe(true)
          } else {
            await expect(ns.put(key, value)).rejects.toMatchObject({ name: 'InvalidKeyError' })
          }
        },
      ),
      { numRuns: 100 },
    )
  })

  it('any namespace name: a namespace or InvalidKeyError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (name) => {
        typedOrValue(() => memory.namespace(name, { tiers: 'ram' }), ['InvalidKeyError'])
      }),
      { numRuns: 500 },
    )
  })
})

/** CBOR of `depth` nested containers around a 0: each level is `prefix` (e.g. 0x81, an array of one). */
function nestedCbor(depth: number, prefix: number[], suffix: number[] = []): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < depth; i++) out.push(...prefix)
  out.push(0x00)
  for (let i = 0; i < depth; i++) out.push(...suffix)
  return Uint8Array.from(out)
}

/** `depth` arrays of one around a 0, built without recursion. */
function nestedArrays(depth: number): unknown {
  let value: unknown = 0
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** What `fn` throws (fails when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn()
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

describe('deep input: nesting is bounded before anything recurses into it', () => {
  const DEEP = 100_000
  afterAll(removeTempDirs)

  it.each([
    ['arrays', nestedCbor(DEEP, [0x81])],
    ['maps', nestedCbor(DEEP, [0xa1, 0x61, 0x61])],
    ['CID tags', nestedCbor(DEEP, [0xd8, 0x2a])],
  ])('decodeManifest refuses %s 100,000 deep with InvalidManifestError', (_kind, input) => {
    const err = thrown(() => decodeManifest(input))
    expect(err).not.toBeInstanceOf(RangeError)
    expect(err.name).toBe('InvalidManifestError')
    expect(err.message).toMatch(`nested deeper than ${MAX_MANIFEST_DEPTH} levels`)
  })

  it.each([
    ['arrays', nestedCbor(DEEP, [0x81])],
    ['indefinite arrays', nestedCbor(DEEP, [0x9f], [0xff])],
    ['Set tags', nestedCbor(DEEP, [0xd9, 0x01, 0x02, 0x81])],
  ])('decodeStateRecord refuses %s 100,000 deep with CorruptedValueError', (_kind, input) => {
    const err = thrown(() => decodeStateRecord(input))
    expect(err).not.toBeInstanceOf(RangeError)
    expect(err.name).toBe('CorruptedValueError')
    expect(err.message).toMatch(`nested deeper than ${MAX_STATE_DEPTH} levels`)
  })

  it('property: a state record of any depth decodes (within the bound) or is CorruptedValueError', () => {
    fc.assert(
      fc.property(fc.nat(300), (depth) => {
        const record = encodeStateRecord(1, 0, nestedArrays(depth))
        // the record's own map is one level
        if (depth + 1 <= MAX_STATE_DEPTH) {
          expect(decodeStateRecord(record).d).toEqual(nestedArrays(depth))
        } else {
          const err = thrown(() => decodeStateRecord(record))
          expect(err.name).toBe('CorruptedValueError')
          expect(err.message).toMatch('nested deeper than')
        }
      }),
      { numRuns: 300 },
    )
  })

  it('save refuses state nested deeper than restore reads, so whatever is saved restores', async () => {
    const memory = createMemory({ path: tempDir('deep-state') })
    await memory.start()
    try {
      const store = memory.state('deep', { schema: z.unknown(), version: 1 })
      await store.save('ok', nestedArrays(MAX_STATE_DEPTH - 1))
      expect(store.restore('ok')?.value).toEqual(nestedArrays(MAX_STATE_DEPTH - 1))
      await expect(store.save('deep', nestedArrays(MAX_STATE_DEPTH))).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        message: expect.stringMatching(`nested deeper than ${MAX_STATE_DEPTH} levels`),
      })
      expect(store.restore('deep')).toBeUndefined()
    } finally {
      await memory.stop()
    }
  })

  it('a stored blob record or pin list nested 100,000 deep is CorruptedValueError, and list() skips it', async () => {
    const path = tempDir('deep-blobs')
    let memory = createMemory({ path })
    await memory.start()
    const { cid } = await memory.blobs.put(new Uint8Array(5000).fill(7))
    type Db = { putSync(key: string, value: Buffer): void }
    const env = (memory as unknown as { environment: { blobs: Db; pins: Db } }).environment
    env.blobs.putSync(cid.toString(), Buffer.from(nestedCbor(DEEP, [0x81])))
    env.pins.putSync(cid.toString(), Buffer.from(nestedCbor(DEEP, [0x81])))
    await memory.stop()

    memory = createMemory({ path })
    await memory.start()
    try {
      for (const read of [() => memory.blobs.stat(cid), () => memory.blobs.pins(cid)]) {
        const err = thrown(read)
        expect(err.name).toBe('CorruptedValueError')
        expect(messages(err)).toMatch('nested deeper than 4 levels')
        expect(messages(err)).not.toMatch('RangeError')
      }
      expect(memory.blobs.list()).toEqual([])
    } finally {
      await memory.stop()
    }
  })
})
