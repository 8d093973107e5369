/**
 * Wire messages of `/vain/handshake/1.0.0` and the signed transcript.
 *
 * ```
 * A (dialer)                                   B (listener)
 *   hello     { v, nonce: nonceA }          →
 *             ← challenge { nonce: nonceB, descriptor: descB, sig: sigB }
 *                 sigB = sign_B(transcript('responder', nonceA, peerId(A), descB))
 *   proof     { descriptor: descA, sig: sigA } →
 *                 sigA = sign_A(transcript('initiator', nonceB, peerId(B), descA))
 *             ← ack {}   (or error { reason })
 * ```
 * Each message is one length-prefixed CBOR frame. Either side may answer `error { reason }`
 * instead of its next message.
 * @module
 */
import { z } from 'zod'
import { MAX_DESCRIPTOR_BYTES } from './descriptor.js'

/** Protocol id of the vAIn handshake. */
export const HANDSHAKE_PROTOCOL = '/vain/handshake/1.0.0'

/** Domain-separation string prefixed to every signed handshake transcript. */
export const HANDSHAKE_DOMAIN = 'vain-handshake-v1'

/** Version of the handshake messages (the `v` of `hello`). */
export const HANDSHAKE_WIRE_VERSION = 1

/** Length of handshake nonces, bytes. */
export const NONCE_BYTES = 32

/** Largest handshake frame accepted, bytes. */
export const MAX_HANDSHAKE_MESSAGE_BYTES = MAX_DESCRIPTOR_BYTES + 1024

const Nonce = z.instanceof(Uint8Array).refine((b) => b.byteLength === NONCE_BYTES, `nonce must be ${NONCE_BYTES} bytes`)
const DescriptorBytes = z
  .instanceof(Uint8Array)
  .refine((b) => b.byteLength > 0 && b.byteLength <= MAX_DESCRIPTOR_BYTES, 'descriptor size out of range')
const Signature = z.instanceof(Uint8Array).refine((b) => b.byteLength > 0 && b.byteLength <= 1024, 'bad signature size')
const Failure = z.object({ t: z.literal('error'), reason: z.string().max(512) })

/** First message, dialer → listener. */
export const HelloSchema = z.object({ t: z.literal('hello'), v: z.number().int(), nonce: Nonce })

/** Second message, listener → dialer. */
export const ChallengeSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('challenge'), nonce: Nonce, descriptor: DescriptorBytes, sig: Signature }),
  Failure,
])

/** Third message, dialer → listener. */
export const ProofSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('proof'), descriptor: DescriptorBytes, sig: Signature }),
  Failure,
])

/** Fourth message, listener → dialer. */
export const AckSchema = z.discriminatedUnion('t', [z.object({ t: z.literal('ack') }), Failure])

/** Which side signs a transcript. */
export type TranscriptRole = 'responder' | 'initiator'

/**
 * The bytes a party signs: the domain string, the signer's role, then the counterpart's nonce,
 * the counterpart's peer id (multihash bytes) and the signer's descriptor bytes, each with a
 * 4-byte big-endian length so the concatenation is unambiguous.
 *
 * @example
 * ```ts
 * const payload = handshakeTranscript('responder', nonceA, dialer.toMultihash().bytes, descriptorBytes)
 * const sig = await privateKey.sign(payload)
 * ```
 */
export function handshakeTranscript(
  role: TranscriptRole,
  nonce: Uint8Array,
  counterpartPeerId: Uint8Array,
  descriptor: Uint8Array,
): Uint8Array {
  const encoder = new TextEncoder()
  const head = encoder.encode(`${HANDSHAKE_DOMAIN}\0${role}\0`)
  const parts = [nonce, counterpartPeerId, descriptor]
  const out = new Uint8Array(head.byteLength + parts.reduce((n, p) => n + 4 + p.byteLength, 0))
  const view = new DataView(out.buffer)
  out.set(head, 0)
  let offset = head.byteLength
  for (const part of parts) {
    view.setUint32(offset, part.byteLength)
    out.set(part, offset + 4)
    offset += 4 + part.byteLength
  }
  return out
}
