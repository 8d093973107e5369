import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CodecError,
  compressionRatio,
  createCodec,
  decodeUpdate,
  deltaCodec,
  fp16,
  fp32,
  InvalidIndexError,
  int4,
  int8,
  MalformedUpdateError,
  readUpdateHeader,
  TruncatedUpdateError,
  topK,
  UnsupportedCodecError,
  type UpdateCodec,
  UpdateLengthMismatchError,
  UpdateTooLargeError,
} from '../src/codecs/index.js'
import { createRng } from '../src/random.js'

const finiteFloat = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 })

function gaussian(n: number, seed: number, scale = 0.01): Float32Array {
  const rng = createRng(seed)
  return Float32Array.from({ length: n }, () => scale * rng.normal())
}

function allCodecs(): UpdateCodec[] {
  return [
    fp32(),
    fp16(),
    int8({ seed: 1 }),
    int4({ seed: 1 }),
    topK({ fraction: 0.3, values: 'fp32' }),
    topK({ fraction: 0.3, values: 'fp16' }),
    topK({ fraction: 0.3, values: 'int8', seed: 2 }),
    topK({ k: 3, values: 'int4', seed: 3 }),
  ]
}

/** The (hand-built) bytes of a sparse fp32 update. */
function sparseBytes(length: number, indexVarints: number[], values: number[]): Uint8Array {
  const head = [0x56, 0x55, 1, 0x10, length, values.length, ...indexVarints]
  const out = new Uint8Array(head.length + 4 * values.length)
  out.set(head)
  const view = new DataView(out.buffer)
  values.forEach((v, k) => {
    view.setFloat32(head.length + 4 * k, v, true)
  })
  return out
}

describe('round trips', () => {
  it('fp32 is lossless', () => {
    fc.assert(
      fc.property(fc.array(finiteFloat, { maxLength: 200 }), (values) => {
        const u = Float32Array.from(values)
        const codec = fp32()
        expect(Array.from(codec.decode(codec.encode(u), { expectedLength: u.length }))).toEqual(Array.from(u))
      }),
    )
  })

  it('fp16 rounds to the nearest half (Math.f16round where available), saturating at 65504', () => {
    const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -65504, max: 65504 }), { maxLength: 200 }),
        (values) => {
          const u = Float32Array.from(values)
          const back = fp16().decode(fp16().encode(u), { expectedLength: u.length })
          for (let j = 0; j < u.length; j++) {
            if (f16round !== undefined) expect(back[j]).toBe(f16round(u[j]!))
            else expect(Math.abs(back[j]! - u[j]!)).toBeLessThanOrEqual(Math.max(Math.abs(u[j]!) * 2 ** -11, 2 ** -25))
          }
        },
      ),
    )
    const big = fp16().decode(fp16().encode(new Float32Array([1e6, -1e6, 65519])), { expectedLength: 3 })
    expect(Array.from(big)).toEqual([65504, -65504, 65504])
  })

  it('int8 / int4 errors stay within one quantization step and stochastic rounding is unbiased', () => {
    fc.assert(
      fc.property(fc.array(finiteFloat, { minLength: 1, maxLength: 300 }), fc.nat(), (values, seed) => {
        const u = Float32Array.from(values)
        for (const [codec, levels] of [
          [int8({ seed, blockSize: 64 }), 127],
          [int4({ seed, blockSize: 64 }), 7],
          [int8({ stochastic: false, blockSize: 64 }), 127],
        ] as const) {
          const back = codec.decode(codec.encode(u), { expectedLength: u.length })
          for (let b = 0; b < u.length; b += 64) {
            let max = 0
            for (let j = b; j < Math.min(u.length, b + 64); j++) max = Math.max(max, Math.abs(u[j]!))
            const step = Math.fround(max / levels)
            for (let j = b; j < Math.min(u.length, b + 64); j++) {
              expect(Math.abs(back[j]! - u[j]!)).toBeLessThanOrEqual(step * 1.0001 + 1e-30)
            }
          }
        }
      }),
      { numRuns: 60 },
    )
    // unbiased: the mean of many stochastic encodings converges to the value
    const u = Float32Array.from([0.3, -0.71, 0.05, 1])
    const codec = int4({ seed: 9 })
    const sum = new Float64Array(4)
    const runs = 4000
    for (let r = 0; r < runs; r++)
      codec.decode(codec.encode(u), { expectedLength: 4 }).forEach((v, j) => {
        sum[j] += v
      })
    for (let j = 0; j < 4; j++) expect(sum[j]! / runs).toBeCloseTo(u[j]!, 2)
  })

  it('top-k sends the k largest magnitudes with strictly increasing indices', () => {
    fc.assert(
      fc.property(
        fc.array(finiteFloat, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 50 }),
        (values, k) => {
          const u = Float32Array.from(values)
          const codec = topK({ k, values: 'fp32', errorFeedback: false })
          const back = codec.decode(codec.encode(u), { expectedLength: u.length })
          const sent = [...back.keys()].filter((j) => back[j] !== 0)
          const nonzero = Array.from(u).filter((x) => x !== 0).length
          expect(sent.length).toBe(Math.min(k, nonzero))
          const smallestSent = Math.min(...sent.map((j) => Math.abs(u[j]!)))
          for (let j = 0; j < u.length; j++) {
            if (back[j] !== 0) expect(back[j]).toBe(u[j])
            else expect(Math.abs(u[j]!)).toBeLessThanOrEqual(smallestSent)
          }
        },
      ),
    )
  })

  it('every codec round-trips through the one decoder; encoding is deterministic for a seed', () => {
    const u = gaussian(1000, 4)
    const codecs = allCodecs()
    const again = allCodecs()
    for (let c = 0; c < codecs.length; c++) {
      const bytes = codecs[c]!.encode(u)
      expect(Buffer.from(again[c]!.encode(u)).equals(Buffer.from(bytes)), codecs[c]!.name).toBe(true)
      expect(decodeUpdate(bytes, { expectedLength: 1000 }).length).toBe(1000)
      expect(readUpdateHeader(bytes)).toMatchObject({ version: 1, length: 1000 })
    }
  })

  it('delta codec reconstructs the parameters from the global model', () => {
    const global = gaussian(500, 1, 1)
    const params = global.map((x, j) => x + (j % 7 === 0 ? 0.5 : 0.001))
    const codec = deltaCodec(topK({ fraction: 1, values: 'fp32', errorFeedback: false }))
    const back = codec.decode(codec.encode(params, global), global)
    for (let j = 0; j < 500; j++) expect(back[j]).toBeCloseTo(params[j]!, 5)
  })
})

describe('error feedback', () => {
  it('the residual carries exactly what was not sent', () => {
    const codec = topK({ fraction: 0.1, values: 'int8', seed: 5 })
    const n = 2000
    let residual: Float32Array = new Float32Array(n)
    const sentTotal = new Float64Array(n)
    const inputTotal = new Float64Array(n)
    for (let round = 0; round < 20; round++) {
      const u = gaussian(n, 100 + round)
      const bytes = codec.encode(u)
      const sent = codec.decode(bytes, { expectedLength: n })
      const next = codec.residual!
      for (let j = 0; j < n; j++) {
        const acc = Math.fround(u[j]! + residual[j]!)
        // what was not sent is carried over exactly; what was sent, to float32 rounding
        if (sent[j] === 0) expect(next[j]).toBe(acc)
        else expect(next[j]).toBe(Math.fround(acc - sent[j]!))
        sentTotal[j] += sent[j]!
        inputTotal[j] += u[j]!
      }
      residual = next
    }
    // Σ sent + residual = Σ updates (nothing is lost, only delayed)
    for (let j = 0; j < n; j++) expect(sentTotal[j]! + residual[j]!).toBeCloseTo(inputTotal[j]!, 4)
    codec.reset()
    expect(codec.residual).toBeUndefined()
  })

  it('without error feedback there is no residual', () => {
    const codec = topK({ fraction: 0.1, errorFeedback: false })
    codec.encode(gaussian(100, 1))
    expect(codec.residual).toBeUndefined()
  })
})

describe('compression', () => {
  it('reaches the expected ratios against dense fp32', () => {
    const n = 100_000
    const u = gaussian(n, 7)
    const ratio = (c: UpdateCodec) => compressionRatio(c.encode(u), n)
    expect(ratio(fp32())).toBeCloseTo(1, 3)
    expect(ratio(fp16())).toBeCloseTo(2, 3)
    expect(ratio(int8({ seed: 1 }))).toBeGreaterThan(3.9)
    expect(ratio(int4({ seed: 1 }))).toBeGreaterThan(7.7)
    expect(ratio(topK({ fraction: 0.01, values: 'int8', seed: 1 }))).toBeGreaterThan(150)
    expect(ratio(topK({ fraction: 0.001, values: 'int8', seed: 1 }))).toBeGreaterThan(1000)
  })
})

describe('malformed input', () => {
  it('any bytes decode to a vector of the expected length or throw a CodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 40 }), (bytes, length) => {
        try {
          expect(decodeUpdate(bytes, { expectedLength: length }).length).toBe(length)
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('mutated and truncated valid encodings decode or throw a CodecError, never anything else', () => {
    const u = gaussian(40, 2)
    const encodings = allCodecs().map((c) => c.encode(u))
    fc.assert(
      fc.property(
        fc.constantFrom(...encodings),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (valid, edits, cut) => {
          const bytes = valid.slice(0, valid.length - (cut % 3 === 0 ? cut % valid.length : 0))
          for (const [pos, value] of edits) if (bytes.length > 0) bytes[pos % bytes.length] = value
          try {
            const out = decodeUpdate(bytes, { expectedLength: 40 })
            expect(out.length).toBe(40)
            for (const v of out) expect(Number.isFinite(v)).toBe(true)
          } catch (err) {
            expect(err).toBeInstanceOf(CodecError)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('names what is wrong', () => {
    const valid = fp32().encode(new Float32Array([1, 2, 3]))
    const decode = (b: Uint8Array, expectedLength = 3, maxBytes?: number) =>
      decodeUpdate(b, maxBytes === undefined ? { expectedLength } : { expectedLength, maxBytes })
    expect(() => decode(valid.subarray(0, valid.length - 1))).toThrow(TruncatedUpdateError)
    expect(() => decode(new Uint8Array([0x56]))).toThrow(TruncatedUpdateError)
    expect(() => decode(Uint8Array.from([0, ...valid.subarray(1)]))).toThrow(MalformedUpdateError)
    const v2 = valid.slice()
    v2[2] = 2
    expect(() => decode(v2)).toThrow(UnsupportedCodecError)
    const badKind = valid.slice()
    badKind[3] = 0x07
    expect(() => decode(badKind)).toThrow(UnsupportedCodecError)
    expect(() => decode(valid, 4)).toThrow(UpdateLengthMismatchError)
    expect(() => decode(valid, 3, 10)).toThrow(UpdateTooLargeError)
    expect(() => decode(Uint8Array.from([...valid, 0]))).toThrowError(
      expect.objectContaining({ name: 'MalformedUpdateError' }),
    )
    // sparse: out-of-range, zero gap (non-increasing), overlong varint
    expect(() => decode(sparseBytes(3, [3], [1]))).toThrow(InvalidIndexError)
    expect(() => decode(sparseBytes(3, [1, 0], [1, 2]))).toThrow(InvalidIndexError)
    expect(() => decode(sparseBytes(3, [2, 1], [1, 2]))).toThrow(InvalidIndexError)
    expect(Array.from(decode(sparseBytes(3, [0, 2], [5, 6])))).toEqual([5, 0, 6])
    expect(() => decode(sparseBytes(3, [0x80, 0x00], [1]))).toThrowError(
      expect.objectContaining({ name: 'MalformedUpdateError' }),
    )
    // a count larger than the model, or than the bytes could hold
    expect(() => decode(Uint8Array.from([0x56, 0x55, 1, 0x10, 3, 4]))).toThrow(MalformedUpdateError)
    expect(() =>
      decodeUpdate(Uint8Array.from([0x56, 0x55, 1, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f]), {
        expectedLength: 2 ** 32 - 1,
        maxBytes: 100,
      }),
    ).toThrow(TruncatedUpdateError)
    // non-finite values
    const nan = valid.slice()
    new DataView(nan.buffer).setFloat32(5, Number.NaN, true)
    expect(() => decode(nan)).toThrowError(expect.objectContaining({ name: 'MalformedUpdateError' }))
    // int4 padding nibble must be zero
    const odd = int4({ seed: 1 }).encode(new Float32Array([1, -1, 0.5]))
    odd[odd.length - 1]! |= 0x10
    expect(() => decode(odd)).toThrow(MalformedUpdateError)
  })

  it('encoders reject non-finite updates; factories reject bad options', () => {
    for (const codec of allCodecs()) {
      expect(() => codec.encode(new Float32Array([1, Number.NaN])), codec.name).toThrowError(
        expect.objectContaining({ name: 'InvalidUpdateError' }),
      )
    }
    expect(() => topK({ fraction: 0 })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createCodec({ name: 'zip' })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createCodec({ name: 'top-k', params: { values: 'int3' } })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(createCodec({ name: 'top-k', params: { fraction: 0.01, values: 'int8', seed: 3 } }).name).toBe('top-k')
  })
})
