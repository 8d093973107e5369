/**
 * The round's proof wire format (`decodeProofWire`) against hostile bytes: any input gives calldata
 * or a typed `MalformedProofError`; a well-formed but random proof is refused by the verifier with a
 * typed error, never another throw; encode ∘ decode is the identity.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeProofWire,
  encodeProofWire,
  MalformedProofError,
  UPDATE_PROOF_WIRE_BYTES,
  ZkError,
  type ZkUpdateProofSystem,
  zkUpdateProofSystem,
} from '../src/zk/index.js'

describe('update proof wire format', () => {
  let zk: ZkUpdateProofSystem
  beforeAll(async () => {
    zk = await zkUpdateProofSystem({ lazy: true })
  })
  afterAll(async () => {
    await zk.close()
  })

  it('property: any bytes decode to a proof or give MalformedProofError; decoding round-trips', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 352, maxLength: 352 })),
        (bytes) => {
          let decoded: ReturnType<typeof decodeProofWire>
          try {
            decoded = decodeProofWire(bytes)
          } catch (err) {
            expect(err).toBeInstanceOf(MalformedProofError)
            expect(bytes.byteLength).not.toBe(UPDATE_PROOF_WIRE_BYTES)
            return
          }
          expect(encodeProofWire(decoded.calldata)).toEqual(bytes)
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('random proofs of the right size are refused with a typed error (field range, curve, or verification)', async () => {
    const statement = {
      jobId: 'cd'.repeat(32),
      round: 1,
      trainer: 'node-0',
      valueCount: 10,
      chunkIndex: 0,
      values: Int8Array.from({ length: 10 }, (_, i) => i - 5),
    }
    const samples = fc.sample(fc.uint8Array({ minLength: 352, maxLength: 352 }), { numRuns: 8, seed: 7 })
    for (const bytes of samples) {
      await expect(zk.verify(statement, bytes)).rejects.toBeInstanceOf(ZkError)
    }
  }, 120_000)
})
