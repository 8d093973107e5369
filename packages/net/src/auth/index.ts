/**
 * Authenticated handshake between vAIn nodes: a libp2p service (`handshake()`) that runs a
 * signed challenge-response with signed node descriptors on every new connection, and a
 * TTL deny list (`PeerDenyList`) that doubles as the node's connection gater.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { PeerDenyList, handshake } from '@vain/net'
 *
 * const denyList = new PeerDenyList()
 * const node = await createLibp2p({
 *   connectionGater: denyList.gater(),
 *   services: {
 *     handshake: handshake({ denyList, descriptor: { softwareVersion: 'vain/0.1.0', roles: ['aggregator'] } }),
 *   },
 * })
 * node.services.handshake.addEventListener('peer:rejected', (evt) => {
 *   console.warn(`rejected ${evt.detail.peerId}: ${evt.detail.reason}`)
 * })
 * ```
 * @module
 */

export type { DenyEntry, PeerDenyListInit } from './deny-list.js'
export { PeerDenyList } from './deny-list.js'
export type { CapacityAdvert, DescriptorPolicy, LocalDescriptorInit, NodeDescriptor, NodeRole } from './descriptor.js'
export {
  CapacityAdvertSchema,
  createNodeDescriptor,
  encodeNodeDescriptor,
  MAX_DESCRIPTOR_BYTES,
  NODE_ROLES,
  NodeDescriptorSchema,
  VAIN_PROTOCOL_VERSION,
  verifyNodeDescriptor,
} from './descriptor.js'
export type {
  HandshakeComponents,
  HandshakeEvents,
  HandshakeInit,
  HandshakeService,
  PeerAuthenticatedEvent,
  PeerRejectedEvent,
} from './handshake.js'
export { handshake } from './handshake.js'
export type { TranscriptRole } from './messages.js'
export {
  AckSchema,
  ChallengeSchema,
  HANDSHAKE_DOMAIN,
  HANDSHAKE_PROTOCOL,
  HANDSHAKE_WIRE_VERSION,
  HelloSchema,
  handshakeTranscript,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  NONCE_BYTES,
  ProofSchema,
} from './messages.js'
