/**
 * "Any bytes in → a valid value or a typed error, never a throw of another kind" for every
 * decoder that reads bytes from a peer or a file.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { PexRequest, pexResponseSchema } from '../src/discovery/pex-messages.js'
import { parseKeyFile } from '../src/identity/key-file.js'
import {
  AckSchema,
  ChallengeSchema,
  createNodeDescriptor,
  DEFAULT_MAX_MESSAGE_DEPTH,
  decodeMessage,
  decompressSync,
  encodeMessage,
  encodeNodeDescriptor,
  HelloSchema,
  jsonNestingDepth,
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

/** CBOR of `depth` nested containers around a 0: each level is `prefix` (e.g. 0x81, an array of one). */
function nestedCbor(depth: number, prefix: number[], suffix: number[] = []): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < depth; i++) out.push(...prefix)
  out.push(0x00)
  for (let i = 0; i < depth; i++) out.push(...suffix)
  return Uint8Array.from(out)
}

/** Whatever `fn` throws (fails when it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a throw')
}

describe('deep input: nesting is bounded before anything recurses into it', () => {
  const DEEP = 100_000

  it.each([
    ['definite arrays', nestedCbor(DEEP, [0x81])],
    ['indefinite arrays', nestedCbor(DEEP, [0x9f], [0xff])],
    ['maps', nestedCbor(DEEP, [0xa1, 0x61, 0x61])],
  ])('decodeMessage refuses %s 100,000 deep with InvalidMessageError', (_kind, bytes) => {
    const err = thrown(() => decodeMessage(bytes, z.unknown()))
    expect(err).not.toBeInstanceOf(RangeError)
    expect(err.name).toBe('InvalidMessageError')
    expect(err.message).toMatch(`nested deeper than ${DEFAULT_MAX_MESSAGE_DEPTH} levels`)
  })

  it('a deep value inside a request envelope is refused too, and maxDepth can be raised or lowered', () => {
    const envelope = Uint8Array.from([0xa2, 0x61, 0x76, 0x01, 0x61, 0x62, ...nestedCbor(40, [0x81])])
    expect(thrown(() => decodeMessage(envelope, z.unknown())).name).toBe('InvalidMessageError')
    expect(decodeMessage(envelope, z.object({ v: z.number(), b: z.unknown() }), { maxDepth: 41 }).v).toBe(1)
    expect(thrown(() => decodeMessage(nestedCbor(3, [0x81]), z.unknown(), { maxDepth: 2 })).message).toMatch(
      'nested deeper than 2 levels',
    )
  })

  it('property: any nesting depth gives the value (within the bound) or InvalidMessageError', () => {
    const kinds = fc.constantFrom<[number[], number[]]>([[0x81], []], [[0x9f], [0xff]], [[0xa1, 0x61, 0x6b], []])
    fc.assert(
      fc.property(fc.nat(200), kinds, (depth, [prefix, suffix]) => {
        const bytes = nestedCbor(depth, prefix, suffix)
        if (depth <= DEFAULT_MAX_MESSAGE_DEPTH) {
          let value = decodeMessage(bytes, z.unknown())
          for (let i = 0; i < depth; i++) value = Array.isArray(value) ? value[0] : (value as { k: unknown }).k
          expect(value).toBe(0)
        } else {
          const err = thrown(() => decodeMessage(bytes, z.unknown()))
          expect(err.name).toBe('InvalidMessageError')
          expect(err.message).toMatch('nested deeper than')
        }
      }),
      { numRuns: 500 },
    )
  })

  it('jsonNestingDepth counts brackets outside strings only, and stops early', () => {
    expect(jsonNestingDepth('0')).toBe(0)
    expect(jsonNestingDepth('[1, {"a": [2]}, []]')).toBe(3)
    expect(jsonNestingDepth(String.raw`{"a": "[[[{{{", "b": "\\", "c": [{"d": "\"]]"}]}`)).toBe(3)
    expect(jsonNestingDepth(String.raw`["\"[[", "\"]"]`)).toBe(1)
    expect(jsonNestingDepth('['.repeat(DEEP) + ']'.repeat(DEEP))).toBe(DEEP)
    expect(jsonNestingDepth('['.repeat(DEEP), 64)).toBe(65)
  })

  it('property: jsonNestingDepth of JSON.stringify(value) is the nesting of the value', () => {
    const depthOf = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (value) => {
        expect(jsonNestingDepth(JSON.stringify(value))).toBe(depthOf(value))
      }),
      { numRuns: 1000 },
    )
  })

  it('a key file nested 30,000 deep (within its 64 KiB) is an IdentityError, not a stack overflow', () => {
    const bytes = new TextEncoder().encode(`${'['.repeat(30_000)}${']'.repeat(30_000)}`)
    const err = thrown(() => parseKeyFile(bytes, 'identity.json'))
    expect(err.name).toBe('IdentityError')
    expect(err.message).toMatch('nested deeper than 8 levels')
  })
})
