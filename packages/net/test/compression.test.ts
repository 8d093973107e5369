import { brotliCompressSync, deflateSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeVarint, encodeVarint } from '../src/compression/frame.js'
import {
  CODEC_LEVELS,
  type CodecName,
  chooseCompression,
  compress,
  compressSync,
  createAdaptiveCompressor,
  decodeFrameHeader,
  decompress,
  decompressSync,
  encodeFrameHeader,
  FRAME_MAGIC,
  measureCompressibility,
  resolveCompressionPolicy,
  takeSample,
} from '../src/compression/index.js'

const TYPED = ['InvalidMessageError', 'MessageTooLargeError']

/** Deterministic PRNG (mulberry32) so the fixtures are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A float32 "model update": 70 % zeros, the rest quantized to 1/16 steps in [-0.5, 0.5]. */
function quantizedUpdate(floats: number, seed = 1): Uint8Array {
  const next = rng(seed)
  const f = new Float32Array(floats)
  for (let i = 0; i < floats; i++) f[i] = next() < 0.7 ? 0 : Math.round((next() - 0.5) * 16) / 16
  return new Uint8Array(f.buffer)
}

function noise(bytes: number, seed = 2): Uint8Array {
  const next = rng(seed)
  const out = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(next() * 256)
  return out
}

function expectTyped(fn: () => unknown, name?: string): void {
  let thrown: unknown
  try {
    fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(Error)
  if (name === undefined) expect(TYPED).toContain((thrown as Error).name)
  else expect((thrown as Error).name).toBe(name)
}

async function expectTypedAsync(p: Promise<unknown>, name?: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a rejection').toBeInstanceOf(Error)
  if (name === undefined) expect(TYPED).toContain((err as Error).name)
  else expect((err as Error).name).toBe(name)
}

const allLevels: Array<[CodecName, number]> = (['none', 'deflate', 'brotli'] as const).flatMap((codec) => {
  const { min, max } = CODEC_LEVELS[codec]
  return Array.from({ length: max - min + 1 }, (_, i) => [codec, min + i] as [CodecName, number])
})

describe('compression: frame header', () => {
  it('encodes magic, codec, level and a varint length', () => {
    expect([...encodeFrameHeader('deflate', 6, 1000)]).toEqual([FRAME_MAGIC, 1, 6, 0xe8, 0x07])
    expect([...encodeFrameHeader('brotli', 11, 0)]).toEqual([FRAME_MAGIC, 2, 11, 0])
    expect([...encodeFrameHeader('none', 0, 127)]).toEqual([FRAME_MAGIC, 0, 0, 127])
  })

  it('round-trips varints up to 2^53 - 1 and rejects overlong / unsafe / truncated ones', () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const enc = encodeVarint(v)
      expect(decodeVarint(enc, 0)).toEqual({ value: v, length: enc.byteLength })
    }
    expect(() => decodeVarint(Uint8Array.of(0x80, 0x00), 0)).toThrow(
      expect.objectContaining({ name: 'InvalidMessageError' }),
    )
    expect(() => decodeVarint(Uint8Array.of(0x80), 0)).toThrow(/truncated/)
    expect(() => decodeVarint(new Uint8Array(9).fill(0xff), 0)).toThrow(/longer than 8/)
    // 2^53 exactly: 7 bytes of 0x80 then 0x10
    expect(() => decodeVarint(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10), 0)).toThrow(/2\^53/)
    expect(() => encodeVarint(-1)).toThrow(RangeError)
  })

  it('rejects a bad magic, unknown codec, invalid level and a short frame', () => {
    const good = compressSync(new Uint8Array(100), { codec: 'deflate', level: 6 }).bytes
    expect(decodeFrameHeader(good)).toMatchObject({ codec: 'deflate', level: 6, originalLength: 100, dataOffset: 4 })
    const mutate = (i: number, v: number): Uint8Array => {
      const b = good.slice()
      b[i] = v
      return b
    }
    expect(() => decompressSync(mutate(0, 0xa2))).toThrow(/magic/)
    expect(() => decompressSync(mutate(1, 3))).toThrow(/unknown codec id 3/)
    expect(() => decompressSync(mutate(2, 10))).toThrow(/level 10 is not valid for codec deflate/)
    expect(() => decompressSync(Uint8Array.of(FRAME_MAGIC, 0, 0))).toThrow(/shorter than a header/)
    expectTyped(() => decompressSync(mutate(1, 3)), 'InvalidMessageError')
    expectTyped(() => decompressSync('not bytes' as unknown as Uint8Array), 'InvalidMessageError')
  })
})

describe('compression: codecs round-trip', () => {
  const payload = quantizedUpdate(8 * 1024)

  it.each(allLevels)('%s level %i round-trips (sync and async)', async (codec, level) => {
    const result = compressSync(payload, { codec, level })
    expect(result.codec).toBe(codec)
    expect(result.level).toBe(level)
    expect(result.originalBytes).toBe(payload.byteLength)
    expect(result.compressedBytes).toBe(result.bytes.byteLength)
    expect(result.ratio).toBeCloseTo(payload.byteLength / result.bytes.byteLength, 10)
    expect(decodeFrameHeader(result.bytes)).toMatchObject({ codec, level, originalLength: payload.byteLength })
    expect(decompressSync(result.bytes)).toEqual(payload)
    // async, forced onto the thread pool both ways
    const asyncResult = await compress(payload, { codec, level, asyncThresholdBytes: 0 })
    expect(asyncResult).toMatchObject({ codec, level, originalBytes: payload.byteLength })
    expect(decompressSync(asyncResult.bytes)).toEqual(payload)
    expect(await decompress(asyncResult.bytes, { asyncThresholdBytes: 0 })).toEqual(payload)
    if (codec !== 'none' && level > 0) expect(result.ratio).toBeGreaterThan(2)
  })

  it('round-trips the empty payload with every codec', async () => {
    for (const codec of ['none', 'deflate', 'brotli'] as const) {
      const { bytes } = compressSync(new Uint8Array(0), { codec })
      expect(decompressSync(bytes)).toEqual(new Uint8Array(0))
      expect(await decompress(bytes)).toEqual(new Uint8Array(0))
    }
  })

  it('property: compress then decompress is the identity for any bytes and codec', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.constantFrom(...allLevels),
        fc.option(fc.double({ min: 1e3, max: 1e9, noNaN: true }), { nil: undefined }),
        (bytes, [codec, level], link) => {
          expect(decompressSync(compressSync(bytes, { codec, level }).bytes)).toEqual(bytes)
          expect(decompressSync(compressSync(bytes, { linkBytesPerSec: link }).bytes)).toEqual(bytes)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects invalid compress options with ConfigError', () => {
    expect(() => compressSync(payload, { codec: 'deflate', level: 10 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(() => compressSync(payload, { codec: 'zstd' as CodecName })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(() => compressSync(payload, { minSizeBytes: -1 })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => resolveCompressionPolicy({ slowLinkChoice: { codec: 'brotli', level: 12 } })).toThrow(/slowLinkChoice/)
  })
})

describe('compression: adaptive choice', () => {
  const update = quantizedUpdate(64 * 1024) // 256 KiB, highly compressible
  const random = noise(256 * 1024)

  it('measures compressibility with a quick deflate-1 pass over a sample', () => {
    expect(measureCompressibility(update)).toBeGreaterThan(3)
    expect(measureCompressibility(random)).toBeLessThan(1.05)
    const spread = takeSample(
      new Uint8Array(1000).map((_, i) => i % 251),
      400,
    )
    expect(spread.byteLength).toBe(400)
    // four slices from evenly spaced offsets: 0, 300, 600, 900
    expect([spread[0], spread[100], spread[200], spread[300]]).toEqual([0, 300 % 251, 600 % 251, 900 % 251])
    const small = new Uint8Array(10)
    expect(takeSample(small, 400)).toBe(small)
  })

  it('tiny payloads are sent uncompressed', () => {
    const d = chooseCompression({ size: 200, sample: new Uint8Array(200), linkBytesPerSec: 1000 })
    expect(d).toMatchObject({ codec: 'none', level: 0 })
    expect(d.reason).toMatch(/tiny/)
    const r = compressSync(new Uint8Array(200), { linkBytesPerSec: 1000 })
    expect(r.codec).toBe('none')
    expect(decompressSync(r.bytes)).toEqual(new Uint8Array(200))
    // the threshold is a parameter
    expect(chooseCompression({ size: 200, sample: new Uint8Array(200) }, { minSizeBytes: 100 }).codec).not.toBe('none')
  })

  it('incompressible (random) bytes are sent uncompressed, even on a slow link', () => {
    const d = chooseCompression({ size: random.byteLength, sample: random, linkBytesPerSec: 50_000 })
    expect(d.codec).toBe('none')
    expect(d.reason).toMatch(/incompressible/)
    expect(d.sampleRatio).toBeLessThan(1.1)
    const r = compressSync(random, { linkBytesPerSec: 50_000 })
    expect(r.codec).toBe('none')
    expect(r.compressedBytes - r.originalBytes).toBeLessThanOrEqual(8) // just the header
  })

  it('compressible float32 updates on a slow link use strong brotli', () => {
    const d = chooseCompression({ size: update.byteLength, sample: update, linkBytesPerSec: 500_000 })
    expect(d).toMatchObject({ codec: 'brotli', level: 9 })
    expect(d.reason).toMatch(/slow link/)
    const r = compressSync(update, { linkBytesPerSec: 500_000 })
    expect(r.codec).toBe('brotli')
    expect(r.level).toBe(9)
    expect(r.ratio).toBeGreaterThan(5)
    expect(decompressSync(r.bytes)).toEqual(update)
  })

  it('a medium or unknown link uses balanced brotli', () => {
    expect(chooseCompression({ size: update.byteLength, sample: update, linkBytesPerSec: 20e6 })).toMatchObject({
      codec: 'brotli',
      level: 4,
    })
    const unknown = chooseCompression({ size: update.byteLength, sample: update })
    expect(unknown).toMatchObject({ codec: 'brotli', level: 4 })
    expect(unknown.reason).toMatch(/unknown/)
  })

  it('a fast (loopback) link uses deflate-1 for very compressible data and none otherwise', () => {
    const fast = chooseCompression({ size: update.byteLength, sample: update, linkBytesPerSec: 1e9 })
    expect(fast).toMatchObject({ codec: 'deflate', level: 1 })
    expect(fast.reason).toMatch(/fast link/)
    // moderately compressible data (ratio between 1.1 and 2): not worth it on a fast link
    const next = rng(3)
    const text = new Uint8Array(256 * 1024).map(() => 97 + Math.floor(next() * 20))
    const ratio = measureCompressibility(text)
    expect(ratio).toBeGreaterThan(1.1)
    expect(ratio).toBeLessThan(2)
    expect(chooseCompression({ size: text.byteLength, sample: text, linkBytesPerSec: 1e9 }).codec).toBe('none')
    expect(chooseCompression({ size: text.byteLength, sample: text, linkBytesPerSec: 500_000 }).codec).toBe('brotli')
    // no sample on a fast link: nothing known, do not spend CPU
    expect(chooseCompression({ size: update.byteLength, linkBytesPerSec: 1e9 }).codec).toBe('none')
  })

  it('thresholds are parameters', () => {
    const input = { size: update.byteLength, sample: update, linkBytesPerSec: 50e6 }
    expect(chooseCompression(input).codec).toBe('brotli')
    expect(chooseCompression(input, { fastLinkBytesPerSec: 40e6 }).codec).toBe('deflate')
    expect(chooseCompression(input, { mediumLinkChoice: { codec: 'deflate', level: 6 } })).toMatchObject({
      codec: 'deflate',
      level: 6,
    })
    expect(chooseCompression(input, { minSampleRatio: 100 }).codec).toBe('none')
  })

  it('adaptive output that would not shrink falls back to none; a forced codec is honoured', () => {
    // with the compressibility check disabled, random bytes reach brotli and do not shrink
    const r = compressSync(random, { minSampleRatio: 0, linkBytesPerSec: 5e6 })
    expect(r.codec).toBe('none')
    expect(r.reason).toMatch(/not smaller/)
    expect(decompressSync(r.bytes)).toEqual(random)
    const forced = compressSync(random, { codec: 'brotli', level: 4 })
    expect(forced.codec).toBe('brotli')
    expect(forced.ratio).toBeLessThan(1)
    expect(decompressSync(forced.bytes)).toEqual(random)
  })

  it('async compress picks the same codec and round-trips big payloads on the thread pool', async () => {
    const r = await compress(update, { linkBytesPerSec: 500_000, asyncThresholdBytes: 1024 })
    expect(r).toMatchObject({ codec: 'brotli', level: 9 })
    expect(await decompress(r.bytes, { asyncThresholdBytes: 1024 })).toEqual(update)
  })
})

describe('compression: AdaptiveCompressor', () => {
  const update = quantizedUpdate(32 * 1024)

  it('keeps an EWMA of each peer throughput and ignores tiny or invalid transfers', () => {
    const c = createAdaptiveCompressor({ ewmaAlpha: 0.5, minTransferBytes: 1000 })
    expect(c.throughput('a')).toBeUndefined()
    expect(c.recordTransfer('a', 1_000_000, 1000)).toBe(1_000_000)
    expect(c.recordTransfer('a', 3_000_000, 1000)).toBe(2_000_000)
    expect(c.recordTransfer('a', 500, 1)).toBe(2_000_000) // below minTransferBytes
    expect(c.recordTransfer('a', 5000, 0)).toBe(2_000_000) // zero duration
    expect(c.recordTransfer('a', Number.NaN, 10)).toBe(2_000_000)
    expect(c.throughput('a')).toBe(2_000_000)
    expect(c.throughput('b')).toBeUndefined()
    expect(c.stats().get('a')).toMatchObject({ throughputBytesPerSec: 2_000_000, transfers: 2 })
  })

  it('chooses per peer from its measured link', () => {
    const c = createAdaptiveCompressor()
    c.recordTransfer('slow', 100_000, 1000) // 100 kB/s
    c.recordTransfer('fast', 1_000_000_000, 1000) // 1 GB/s
    expect(c.choose('slow', update)).toMatchObject({ codec: 'brotli', level: 9 })
    expect(c.choose('fast', update)).toMatchObject({ codec: 'deflate', level: 1 })
    expect(c.choose('new', update)).toMatchObject({ codec: 'brotli', level: 4 })
  })

  it('records the ratios achieved per peer', async () => {
    const c = createAdaptiveCompressor()
    c.recordTransfer('slow', 100_000, 1000)
    const r1 = c.compressSync('slow', update)
    const r2 = await c.compress('slow', update)
    const r3 = c.compressSync('slow', new Uint8Array(10)) // tiny → none
    expect(decompressSync(r2.bytes)).toEqual(update)
    const s = c.stats().get('slow')
    expect(s).toBeDefined()
    expect(s?.compressions).toBe(3)
    expect(s?.originalBytes).toBe(2 * update.byteLength + 10)
    expect(s?.compressedBytes).toBe(r1.compressedBytes + r2.compressedBytes + r3.compressedBytes)
    expect(s?.ratio).toBeCloseTo(
      (2 * update.byteLength + 10) / (r1.compressedBytes + r2.compressedBytes + r3.compressedBytes),
    )
    expect(s?.lastRatio).toBe(r3.ratio)
    expect(s?.byCodec).toEqual({ none: 1, deflate: 0, brotli: 2 })
    c.forget('slow')
    expect(c.stats().has('slow')).toBe(false)
  })

  it('remembers at most maxPeers, forgetting the least recently used', () => {
    const c = createAdaptiveCompressor({ maxPeers: 2, minTransferBytes: 0 })
    c.recordTransfer('a', 100, 1)
    c.recordTransfer('b', 100, 1)
    c.recordTransfer('a', 100, 1) // a is now most recent
    c.recordTransfer('c', 100, 1) // evicts b
    expect([...c.stats().keys()].sort()).toEqual(['a', 'c'])
  })

  it('rejects invalid options', () => {
    expect(() => createAdaptiveCompressor({ ewmaAlpha: 0 })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createAdaptiveCompressor({ maxPeers: 0 })).toThrow(/maxPeers/)
  })
})

describe('compression: hostile input', () => {
  const payload = quantizedUpdate(4096)
  const frames = (['deflate', 'brotli', 'none'] as const).map((codec) => compressSync(payload, { codec }).bytes)

  it('rejects a declared length above maxOutputBytes before decoding', async () => {
    const { bytes } = compressSync(payload, { codec: 'brotli' })
    expectTyped(() => decompressSync(bytes, { maxOutputBytes: 1000 }), 'MessageTooLargeError')
    await expectTypedAsync(decompress(bytes, { maxOutputBytes: 1000 }), 'MessageTooLargeError')
    const err = (() => {
      try {
        decompressSync(bytes, { maxOutputBytes: 1000 })
      } catch (e) {
        return e as { size: number; limit: number }
      }
      return undefined
    })()
    expect(err).toMatchObject({ size: payload.byteLength, limit: 1000 })
  })

  it('stops a decompression bomb whose header lies about its length', async () => {
    const huge = new Uint8Array(16 * 1024 * 1024) // 16 MiB of zeros: ~1000× expansion
    for (const [id, data] of [
      [1, deflateSync(huge, { level: 9 })],
      [2, brotliCompressSync(huge)],
    ] as const) {
      expect(data.byteLength).toBeLessThan(32 * 1024)
      const header = Uint8Array.of(FRAME_MAGIC, id, 1, ...encodeVarint(1024))
      const bomb = new Uint8Array([...header, ...data])
      expectTyped(() => decompressSync(bomb, { maxOutputBytes: 1 << 20 }), 'InvalidMessageError')
      expect(() => decompressSync(bomb)).toThrow(/more than the header's 1024 bytes/)
      await expectTypedAsync(decompress(bomb, { asyncThresholdBytes: 0 }), 'InvalidMessageError')
      // an honest header is refused up front
      const honest = new Uint8Array([FRAME_MAGIC, id, 1, ...encodeVarint(huge.byteLength), ...data])
      expectTyped(() => decompressSync(honest, { maxOutputBytes: 1 << 20 }), 'MessageTooLargeError')
    }
  })

  it('rejects truncated frames of every codec', async () => {
    for (const frame of frames) {
      for (const cut of [1, 2, 5, Math.floor(frame.byteLength / 2), frame.byteLength - 1]) {
        const truncated = frame.subarray(0, frame.byteLength - cut)
        expectTyped(() => decompressSync(truncated), 'InvalidMessageError')
        await expectTypedAsync(decompress(truncated, { asyncThresholdBytes: 0 }), 'InvalidMessageError')
      }
    }
  })

  it('rejects trailing bytes and a length that differs from the header', () => {
    for (const frame of frames) {
      expectTyped(() => decompressSync(new Uint8Array([...frame, 0, 1, 2])), 'InvalidMessageError')
    }
    const deflate = compressSync(payload, { codec: 'deflate' }).bytes
    const data = deflate.subarray(decodeFrameHeader(deflate).dataOffset)
    const shortHeader = new Uint8Array([FRAME_MAGIC, 1, 6, ...encodeVarint(payload.byteLength + 1), ...data])
    expect(() => decompressSync(shortHeader)).toThrow(/decoded 16384 bytes but the header says 16385/)
  })

  it('rejects corrupted deflate data (Adler-32) and never throws untyped errors on any corruption', () => {
    const deflate = compressSync(payload, { codec: 'deflate' }).bytes
    const flipped = deflate.slice()
    flipped[flipped.byteLength - 10] = (flipped[flipped.byteLength - 10] as number) ^ 0x40
    expectTyped(() => decompressSync(flipped), 'InvalidMessageError')
    // every single-byte corruption of every frame: correct output or a typed error
    for (const frame of frames) {
      for (let i = 0; i < frame.byteLength; i += 7) {
        const bad = frame.slice()
        bad[i] = (bad[i] as number) ^ 0xff
        try {
          const out = decompressSync(bad)
          expect(out.byteLength).toBe(payload.byteLength)
        } catch (err) {
          expect(TYPED).toContain((err as Error).name)
        }
      }
    }
  })

  it('property: any bytes into decompressSync give output or a typed error, never another throw', () => {
    const header = fc
      .tuple(fc.constantFrom(0, 1, 2, 3, 255), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 1 << 20 }))
      .map(([codec, level, len]) => Uint8Array.of(FRAME_MAGIC, codec, level, ...encodeVarint(len)))
    const mutated = fc
      .tuple(fc.constantFrom(...frames), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat())
      .map(([f, i, v, cut]) => {
        const b = f.slice(0, f.byteLength - (cut % 3 === 0 ? cut % f.byteLength : 0))
        if (b.byteLength > 0) b[i % b.byteLength] = v
        return b
      })
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(header, fc.uint8Array({ maxLength: 300 })).map(([h, d]) => new Uint8Array([...h, ...d])),
      mutated,
    )
    fc.assert(
      fc.property(input, fc.integer({ min: 0, max: 1 << 16 }), (bytes, maxOutputBytes) => {
        try {
          const out = decompressSync(bytes, { maxOutputBytes })
          expect(out.byteLength).toBe(decodeFrameHeader(bytes).originalLength)
          expect(out.byteLength).toBeLessThanOrEqual(maxOutputBytes)
        } catch (err) {
          expect(TYPED).toContain((err as Error).name)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('property: the async decompress only rejects with typed errors too', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (tail, magic) => {
        const bytes = magic ? new Uint8Array([FRAME_MAGIC, tail[0] ?? 0, ...tail]) : tail
        try {
          await decompress(bytes, { asyncThresholdBytes: 0 })
        } catch (err) {
          expect(TYPED).toContain((err as Error).name)
        }
      }),
      { numRuns: 300 },
    )
  })
})
