/**
 * "Any bytes in → a valid value or a typed error, never a throw of another kind" for every
 * decoder that reads bytes from a peer or a file.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { PexRequest, pexResponseSchema } from '../src/discovery/pex-messages.js'
import {
  AckSchema,
  ChallengeSchema,
  createNodeDescriptor,
  decodeMessage,
  decompressSync,
  encodeMessage,
  encodeNodeDescriptor,
  HelloSchema,
  ProofSchema,
  verifyNodeDescriptor,
  verifySignedPeerRecord,
} from '../src/index.js'

const TYPED = new Set(['InvalidMessageError', 'MessageTooLargeError', 'UnsupportedVersionError', 'HandshakeError'])

function expectTyped(fn: () => unknown): void {
  try {
    fn()
  } catch (err) {
    expect(TYPED, `unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`).toContain((err as Error).name)
  }
}

/** Bytes that are often valid CBOR maps with plausible keys, else random. */
const cborish = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc
    .dictionary(
      fc.constantFrom('t', 'v', 'nonce', 'descriptor', 'signature', 'reason', 'max', 'records', 'peerId'),
      fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.constant(null)),
    )
    .map((o) => encodeMessage(o)),
)

describe('property: decoders never throw untyped errors', () => {
  let peerId: PeerId
  beforeAll(async () => {
    peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('handshake messages', () => {
    fc.assert(
      fc.property(cborish, (bytes) => {
        for (const schema of [HelloSchema, ChallengeSchema, ProofSchema, AckSchema]) {
          expectTyped(() => decodeMessage(bytes, schema))
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('node descriptors', () => {
    const policy = () => ({ peerId, now: Date.now(), maxClockSkewMs: 60_000, supportedProtocolVersions: [1] })
    fc.assert(
      fc.property(cborish, (bytes) => {
        expectTyped(() => verifyNodeDescriptor(bytes, policy()))
      }),
      { numRuns: 1000 },
    )
    // and a valid one round-trips
    const d = createNodeDescriptor({ softwareVersion: '1.0.0', roles: ['trainer'] }, peerId, Date.now())
    expect(verifyNodeDescriptor(encodeNodeDescriptor(d), policy())).toEqual(d)
  })

  it('node descriptor with flipped bytes', () => {
    const d = encodeNodeDescriptor(
      createNodeDescriptor({ softwareVersion: '1.0.0', roles: ['aggregator'] }, peerId, Date.now()),
    )
    fc.assert(
      fc.property(fc.nat(d.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const copy = Uint8Array.from(d)
        copy[i] = (copy[i] as number) ^ x
        expectTyped(() =>
          verifyNodeDescriptor(copy, {
            peerId,
            now: Date.now(),
            maxClockSkewMs: 60_000,
            supportedProtocolVersions: [1],
          }),
        )
      }),
      { numRuns: 500 },
    )
  })

  it('PEX requests and responses', () => {
    const response = pexResponseSchema(64)
    fc.assert(
      fc.property(cborish, (bytes) => {
        expectTyped(() => decodeMessage(bytes, PexRequest))
        expectTyped(() => decodeMessage(bytes, response))
      }),
      { numRuns: 1000 },
    )
  })

  it('signed peer records', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          await verifySignedPeerRecord(bytes)
        } catch (err) {
          expect(TYPED).toContain((err as Error).name)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('compressed frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expectTyped(() => decompressSync(bytes, { maxOutputBytes: 1 << 20 }))
      }),
      { numRuns: 1000 },
    )
  })
})
