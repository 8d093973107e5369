import { describe, expect, it } from 'vitest'
import {
  createSecAggClient,
  createSecAggServer,
  decodeFixedPoint,
  encodeFixedPoint,
  FixedPointOverflowError,
  runSecureAggregation,
  SecAggProtocolError,
  TooFewSurvivorsError,
} from '../src/privacy/index.js'
import { createRng } from '../src/random.js'

function inputs(n: number, d: number, seed: number): Float32Array[] {
  const rng = createRng(seed)
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => 0.1 * rng.normal()))
}

/** The plain sum of the contributors' fixed-point-rounded inputs. */
function plainSum(xs: readonly Float32Array[], ids: readonly number[], bits = 16): Float64Array {
  const out = new Float64Array(xs[0]!.length)
  for (const id of ids) {
    xs[id - 1]!.forEach((v, j) => {
      out[j] += Math.round(v * 2 ** bits) / 2 ** bits
    })
  }
  return out
}

describe('secure aggregation', () => {
  it('recovers exactly the plain sum with no dropouts', () => {
    const xs = inputs(6, 300, 1)
    const { sum, contributors } = runSecureAggregation({ inputs: xs })
    expect(contributors).toEqual([1, 2, 3, 4, 5, 6])
    expect(Array.from(sum)).toEqual(Array.from(plainSum(xs, contributors)))
    // and the float sum to within the fixed-point resolution
    for (let j = 0; j < sum.length; j++) {
      expect(Math.abs(sum[j]! - xs.reduce((s, x) => s + x[j]!, 0))).toBeLessThan(6 * 2 ** -17)
    }
  })

  it('recovers the sum when up to a third drop out before and after uploading', () => {
    const n = 12
    const xs = inputs(n, 200, 2)
    // 4 of 12 drop out: 1 after advertising keys, 1 before uploading, 2 after uploading
    const run = runSecureAggregation({
      inputs: xs,
      dropBeforeSharing: [4],
      dropBeforeUpload: [9],
      dropAfterUpload: [1, 12],
    })
    expect(run.contributors).toEqual([1, 2, 3, 5, 6, 7, 8, 10, 11, 12])
    expect(Array.from(run.sum)).toEqual(Array.from(plainSum(xs, run.contributors)))
    const before = runSecureAggregation({ inputs: xs, dropBeforeUpload: [2, 5, 7, 11] })
    expect(Array.from(before.sum)).toEqual(Array.from(plainSum(xs, before.contributors)))
    const after = runSecureAggregation({ inputs: xs, dropAfterUpload: [2, 5, 7, 11] })
    expect(after.contributors).toHaveLength(12)
    expect(Array.from(after.sum)).toEqual(Array.from(plainSum(xs, after.contributors)))
  })

  it('fails with a typed error when fewer than the threshold survive', () => {
    const xs = inputs(7, 10, 3) // threshold 4
    let err: unknown
    try {
      runSecureAggregation({ inputs: xs, dropBeforeUpload: [1, 2, 3, 4] })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(TooFewSurvivorsError)
    expect(err).toMatchObject({ name: 'TooFewSurvivorsError', stage: 'masked-inputs', survivors: 3, threshold: 4 })
    expect(() => runSecureAggregation({ inputs: xs, dropAfterUpload: [1, 2, 3, 4] })).toThrowError(
      expect.objectContaining({ name: 'TooFewSurvivorsError', stage: 'unmasking' }),
    )
    expect(() => runSecureAggregation({ inputs: xs, dropBeforeSharing: [1, 2, 3, 4] })).toThrowError(
      expect.objectContaining({ name: 'TooFewSurvivorsError', stage: 'shares' }),
    )
    expect(() => runSecureAggregation({ inputs: xs, threshold: 3 })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })

  it('masked inputs look uniformly random; the server never holds an unmasked input', () => {
    const d = 4000
    const config = { threshold: 2, vectorLength: d }
    const clients = [1, 2, 3].map((id) => createSecAggClient({ ...config, id }))
    const server = createSecAggServer(config)
    const roster = server.collectKeys(clients.map((c) => c.advertiseKeys()))
    const inbox = server.routeShares(clients.map((c) => c.shareKeys(roster)))
    const zero = new Float32Array(d)
    const masked = clients.map((c) => c.maskInput(zero, inbox.get(c.id)!))
    // an all-zero input is masked to ~uniform uint32 values: mean ≈ 2^31, few zeros
    const m = masked[0]!.masked
    const mean = m.reduce((s, v) => s + v, 0) / d
    expect(Math.abs(mean / 2 ** 31 - 1)).toBeLessThan(0.05)
    expect(m.filter((v) => v === 0).length).toBeLessThan(3)
    const survivors = server.collectMaskedInputs(masked)
    const { sum } = server.unmask(clients.map((c) => c.unmask(survivors)))
    expect(sum.every((v) => v === 0)).toBe(true)
  })

  it('rejects protocol violations with typed errors', () => {
    const config = { threshold: 2, vectorLength: 4 }
    const [a, b, c] = [1, 2, 3].map((id) => createSecAggClient({ ...config, id }))
    expect(() => a!.shareKeys([])).toThrow(SecAggProtocolError) // out of order
    const server = createSecAggServer(config)
    const roster = server.collectKeys([a!, b!, c!].map((x) => x.advertiseKeys()))
    const shares = [a!, b!, c!].map((x) => x.shareKeys(roster))
    const inbox = server.routeShares(shares)
    const tampered = inbox
      .get(1)!
      .map((s) => ({ ...s, ciphertext: s.ciphertext.map((v, i) => (i === 20 ? v ^ 1 : v)) }))
    expect(() => a!.maskInput(new Float32Array(4), tampered)).toThrow(SecAggProtocolError)
    expect(() => b!.maskInput(new Float32Array(5), inbox.get(2)!)).toThrowError(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
    expect(() => server.collectKeys([])).toThrow(SecAggProtocolError)
  })

  it('fixed point refuses values whose sum could wrap around', () => {
    expect(
      Array.from(
        decodeFixedPoint(encodeFixedPoint(Float32Array.from([0.5, -1, 0]), { fractionalBits: 16, clients: 10 }), 16),
      ),
    ).toEqual([0.5, -1, 0])
    expect(() => encodeFixedPoint(Float32Array.from([4000]), { fractionalBits: 16, clients: 10 })).toThrow(
      FixedPointOverflowError,
    )
    expect(() =>
      runSecureAggregation({ inputs: [Float32Array.from([1e5]), Float32Array.from([0]), Float32Array.from([0])] }),
    ).toThrowError(expect.objectContaining({ name: 'FixedPointOverflowError' }))
  })
})
