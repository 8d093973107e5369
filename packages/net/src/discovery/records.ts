/**
 * Verification of signed peer records (libp2p RFC 0003 envelopes) received from other peers.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import type { Multiaddr } from '@multiformats/multiaddr'
import { equals } from 'uint8arrays/equals'
import { InvalidMessageError } from '../errors.js'

/** A signed peer record whose envelope signature and signer were checked. */
export interface VerifiedPeerRecord {
  /** The peer the record describes; equal to the envelope's signer. */
  peerId: PeerId
  /** The addresses the peer signed. */
  multiaddrs: Multiaddr[]
  /** The record's sequence number (newer records have larger numbers). */
  seqNumber: bigint
  /** The marshalled envelope, as received. */
  envelope: Uint8Array
}

/**
 * Open a marshalled peer record envelope, check its signature for the peer-record domain and
 * payload type, and check that the signing key is the key of the peer the record describes.
 *
 * @throws {InvalidMessageError} when the bytes are not an envelope, the signature is wrong, the
 *   payload is not a peer record, or the record was signed by another peer's key
 * @example
 * ```ts
 * const peer = await node.peerStore.get(node.peerId)
 * const record = await verifySignedPeerRecord(peer.peerRecordEnvelope!)
 * record.peerId.equals(node.peerId) // true
 * ```
 */
export async function verifySignedPeerRecord(bytes: Uint8Array): Promise<VerifiedPeerRecord> {
  let envelope: RecordEnvelope
  try {
    envelope = await RecordEnvelope.openAndCertify(bytes, PeerRecord.DOMAIN)
  } catch (cause) {
    throw new InvalidMessageError('peer record: bad envelope or signature', { cause })
  }
  if (!equals(envelope.payloadType, PeerRecord.CODEC)) {
    throw new InvalidMessageError('peer record: envelope payload is not a peer record')
  }
  let record: PeerRecord
  let signer: PeerId
  try {
    record = PeerRecord.createFromProtobuf(envelope.payload)
    signer = peerIdFromPublicKey(envelope.publicKey)
  } catch (cause) {
    throw new InvalidMessageError('peer record: undecodable payload', { cause })
  }
  if (!record.peerId.equals(signer)) {
    throw new InvalidMessageError(
      `peer record: signed by ${signer.toString()} but describes ${record.peerId.toString()}`,
    )
  }
  return { peerId: record.peerId, multiaddrs: record.multiaddrs, seqNumber: record.seqNumber, envelope: bytes }
}

/**
 * The peer that signed a peer record envelope, read without checking the signature (cheap: a
 * protobuf decode). For skipping records that need no check, never for trusting one.
 *
 * @returns the signer, or `undefined` when the bytes are not an envelope
 * @example
 * ```ts
 * recordSigner(peer.peerRecordEnvelope!)?.equals(peer.id) // true
 * ```
 */
export function recordSigner(bytes: Uint8Array): PeerId | undefined {
  try {
    return peerIdFromPublicKey(RecordEnvelope.createFromProtobuf(bytes).publicKey)
  } catch {
    return undefined
  }
}
