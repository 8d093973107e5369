/**
 * Proven updates, the parts that need no proof system: reading an int8 update's blocks, the norm
 * the proofs bound, the trainer's clip, and the header checks a member makes before reading bytes.
 * (Real Groth16 proofs in the round: packages/chain/test/zk-round.test.ts.)
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CodecError,
  checkProofHeader,
  clipToNorm,
  decodeUpdate,
  InvalidUpdateProofError,
  int8,
  type JobSpec,
  JobSpecSchema,
  MissingUpdateProofError,
  PROOF_CHUNK_VALUES,
  planProofs,
  readQuantizedUpdate,
  topK,
} from '../src/index.js'

const job = (proofs = true): JobSpec =>
  JobSpecSchema.parse({
    name: 'p',
    architecture: { kind: 'softmax', features: 2, classes: 2 },
    initialModel: 'a'.repeat(46),
    dataset: { name: 'blobs' },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'int8' },
    rounds: 1,
    roundDeadlineMs: 1000,
    minUpdates: 1,
    committeeSize: 1,
    local: { epochs: 1, batchSize: 8, lr: 0.1 },
    maxUpdateBytes: 1 << 20,
    ...(proofs ? { proofs: { normBound: 2 } } : {}),
  })

describe('proven updates: blocks, norms and header checks', () => {
  it('reads the int8 blocks of a dense and a sparse update exactly as the decoder dequantizes them', () => {
    const delta = Float32Array.from({ length: 700 }, (_, i) => Math.sin(i) / (1 + (i % 13)))
    for (const encoded of [int8({ seed: 3 }).encode(delta), topK({ k: 300, seed: 3 }).encode(delta)]) {
      const q = readQuantizedUpdate(encoded, { expectedLength: 700 })
      const dense = decodeUpdate(encoded, { expectedLength: 700 })
      const at = q.indices ?? Uint32Array.from({ length: 700 }, (_, i) => i)
      for (let k = 0; k < q.values.length; k++) {
        expect(dense[at[k] as number]).toBeCloseTo(
          (q.values[k] as number) * (q.scales[Math.floor(k / 256)] as number),
          6,
        )
      }
      const plan = planProofs(encoded, 700)
      expect(plan.chunks).toHaveLength(Math.ceil(q.values.length / PROOF_CHUNK_VALUES))
      let sq = 0
      for (const x of dense) sq += x * x
      // the proofs bound exactly the dequantized update's squared norm
      expect(plan.boundedSquaredNorm).toBeCloseTo(sq, 4)
    }
  })

  it('property: any bytes give blocks or a CodecError, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 600 }), (bytes, n) => {
        try {
          readQuantizedUpdate(bytes, { expectedLength: n })
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses updates that are not int8 in blocks of 256', () => {
    const delta = new Float32Array(300).fill(0.01)
    expect(() => planProofs(int8({ blockSize: 64 }).encode(delta), 300)).toThrow(InvalidUpdateProofError)
    expect(() => planProofs(topK({ k: 10, values: 'fp16' }).encode(delta), 300)).toThrow(CodecError)
  })

  it('a trainer clips its update to the bound; small updates are left alone', () => {
    const big = Float32Array.from([3, 4])
    expect([...clipToNorm(big, 1)].map((x) => +x.toFixed(5))).toEqual([0.6, 0.8])
    const small = Float32Array.from([0.3, 0.4])
    expect([...clipToNorm(small, 1)]).toEqual([...Float32Array.from([0.3, 0.4])])
  })

  it('header checks: a proven job needs proofs of the system size within the payload; others take none', () => {
    const h = { payloadBytes: 1000, proofs: { count: 2, bytes: 704 } }
    expect(checkProofHeader(job(), h, 352)).toBeUndefined()
    expect(checkProofHeader(job(), { payloadBytes: 1000 }, 352)).toBeInstanceOf(MissingUpdateProofError)
    expect(checkProofHeader(job(), h, undefined)).toBeInstanceOf(MissingUpdateProofError)
    expect(checkProofHeader(job(), { ...h, proofs: { count: 3, bytes: 704 } }, 352)).toBeInstanceOf(
      InvalidUpdateProofError,
    )
    expect(checkProofHeader(job(), { payloadBytes: 704, proofs: { count: 2, bytes: 704 } }, 352)).toBeInstanceOf(
      InvalidUpdateProofError,
    )
    expect(checkProofHeader(job(false), h, 352)).toBeInstanceOf(InvalidUpdateProofError)
    expect(checkProofHeader(job(false), { payloadBytes: 1000 }, 352)).toBeUndefined()
    // a regional aggregate is the committee's own output: no proofs
    expect(checkProofHeader(job(), { payloadBytes: 1000, region: { index: 0 } }, 352)).toBeUndefined()
  })
})
