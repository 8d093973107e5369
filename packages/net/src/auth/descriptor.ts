/**
 * The node descriptor: what a peer says about itself during the handshake (protocol and
 * software version, roles, capabilities, chain address). It travels as CBOR bytes and is
 * signed by the peer's libp2p key as part of the handshake transcript.
 * @module
 */
import type { PeerId } from '@libp2p/interface'
import { z } from 'zod'
import { HandshakeError, UnsupportedVersionError } from '../errors.js'
import { decodeMessage, encodeMessage } from '../wire/index.js'

/** The vAIn protocol version this build speaks (descriptor field `protocolVersion`). */
export const VAIN_PROTOCOL_VERSION = 1

/** Largest encoded descriptor accepted, in bytes. */
export const MAX_DESCRIPTOR_BYTES = 16 * 1024

/** Roles a node can take in the federated network. */
export const NODE_ROLES = ['trainer', 'aggregator', 'validator', 'light'] as const

/** A role a node can take: trains, aggregates, validates updates, or only follows. */
export type NodeRole = (typeof NODE_ROLES)[number]

const unique = (values: readonly string[]): boolean => new Set(values).size === values.length

/**
 * zod schema of the spare capacity a node advertises in its descriptor (for load balancing):
 * a 0–1 `score` that a selection may weigh candidates by, and the figures behind it where the
 * node knows them (absent, never zero, when it does not).
 */
export const CapacityAdvertSchema = z.strictObject({
  /** 0–1: the share of its budget the node can give (what a capacity-weighted selection uses). */
  score: z.number().min(0).max(1),
  /** Cores free for its tasks. */
  cpuCores: z.number().min(0).max(65_536).optional(),
  /** Bytes of memory it may still use. */
  memoryBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** GPUs it found. */
  gpus: z.number().int().min(0).max(256).optional(),
  /** Whether it runs on battery (absent: unknown). */
  onBattery: z.boolean().optional(),
})

/** Spare capacity a node advertises in its descriptor. */
export type CapacityAdvert = z.output<typeof CapacityAdvertSchema>

/**
 * zod schema of a node descriptor. Unknown fields are dropped, so newer peers may add fields.
 *
 * @example
 * ```ts
 * const ok = NodeDescriptorSchema.safeParse(value).success
 * ```
 */
export const NodeDescriptorSchema = z.object({
  /** vAIn protocol version the node speaks. */
  protocolVersion: z.number().int().min(1).max(65_535),
  /** Software name/version, e.g. `vain-node/0.1.0`. */
  softwareVersion: z.string().min(1).max(64),
  /** The node's libp2p peer id (must equal the connection's remote peer). */
  peerId: z.string().min(1).max(128),
  /** Roles the node takes (at least one, no duplicates). */
  roles: z.array(z.enum(NODE_ROLES)).min(1).max(NODE_ROLES.length).refine(unique, 'duplicate role'),
  /** Free-form capability tags, e.g. `fl/mnist-mlp`, `gpu`. */
  capabilities: z.array(z.string().min(1).max(64)).max(64).refine(unique, 'duplicate capability'),
  /** Small key/value facts, e.g. `{ maxModelBytes: 100_000_000 }`. */
  attributes: z
    .record(z.string().min(1).max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
    .refine((r) => Object.keys(r).length <= 32, 'at most 32 attributes')
    .optional(),
  /** EVM address (20 bytes, 0x-hex) the node is paid at / staked from. */
  chainAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
    .optional(),
  /** Spare capacity the node advertises (load balancing); absent from nodes that do not. */
  capacity: CapacityAdvertSchema.optional(),
  /** Milliseconds since the Unix epoch when the descriptor was made. */
  timestamp: z.number().int().min(0),
})

/** A node descriptor. */
export type NodeDescriptor = z.output<typeof NodeDescriptorSchema>

/** What the local node says about itself; the handshake fills in peer id, version and time. */
export interface LocalDescriptorInit {
  /** Software name/version, e.g. `vain-node/0.1.0`. */
  softwareVersion: string
  /** Roles this node takes. */
  roles: NodeRole[]
  /** Capability tags. Default none. */
  capabilities?: string[]
  /** Small key/value facts. */
  attributes?: Record<string, string | number | boolean>
  /** EVM address, 0x-hex, 20 bytes. */
  chainAddress?: string
  /** Protocol version to announce. Default {@link VAIN_PROTOCOL_VERSION}. */
  protocolVersion?: number
  /** Spare capacity to advertise. */
  capacity?: CapacityAdvert
}

/**
 * Build and validate the local node's descriptor.
 *
 * @throws {HandshakeError} when a field is invalid (e.g. a malformed chain address)
 * @example
 * ```ts
 * const d = createNodeDescriptor({ softwareVersion: 'vain/0.1.0', roles: ['trainer'] }, node.peerId, Date.now())
 * ```
 */
export function createNodeDescriptor(init: LocalDescriptorInit, peerId: PeerId, timestamp: number): NodeDescriptor {
  const candidate = {
    protocolVersion: init.protocolVersion ?? VAIN_PROTOCOL_VERSION,
    softwareVersion: init.softwareVersion,
    peerId: peerId.toString(),
    roles: init.roles,
    capabilities: init.capabilities ?? [],
    ...(init.attributes !== undefined ? { attributes: init.attributes } : {}),
    ...(init.chainAddress !== undefined ? { chainAddress: init.chainAddress } : {}),
    ...(init.capacity !== undefined ? { capacity: init.capacity } : {}),
    timestamp: Math.floor(timestamp),
  }
  const parsed = NodeDescriptorSchema.safeParse(candidate)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
    throw new HandshakeError(`invalid local node descriptor: ${issues}`, { cause: parsed.error })
  }
  return parsed.data
}

/**
 * Encode a descriptor as deterministic CBOR (the bytes that get signed).
 *
 * @example
 * ```ts
 * const bytes = encodeNodeDescriptor(descriptor)
 * ```
 */
export function encodeNodeDescriptor(descriptor: NodeDescriptor): Uint8Array {
  return encodeMessage(descriptor)
}

/** Checks applied to a received descriptor by {@link verifyNodeDescriptor}. */
export interface DescriptorPolicy {
  /** The peer the connection is authenticated to. */
  peerId: PeerId
  /** Current time, ms since epoch. */
  now: number
  /** Largest accepted |now − timestamp|, ms. */
  maxClockSkewMs: number
  /** Accepted `protocolVersion` values. */
  supportedProtocolVersions: readonly number[]
}

/**
 * Decode a received descriptor and check it belongs to `policy.peerId`, has a supported
 * protocol version and a fresh timestamp.
 *
 * @throws {InvalidMessageError} when the bytes are not a descriptor
 * @throws {UnsupportedVersionError} when the protocol version is not supported
 * @throws {HandshakeError} when the peer id does not match or the timestamp is out of range
 * @example
 * ```ts
 * const d = verifyNodeDescriptor(bytes, { peerId: conn.remotePeer, now: Date.now(), maxClockSkewMs: 300_000, supportedProtocolVersions: [1] })
 * ```
 */
export function verifyNodeDescriptor(bytes: Uint8Array, policy: DescriptorPolicy): NodeDescriptor {
  const descriptor = decodeMessage(bytes, NodeDescriptorSchema, {
    maxBytes: MAX_DESCRIPTOR_BYTES,
    label: 'node descriptor',
  })
  const expected = policy.peerId.toString()
  if (descriptor.peerId !== expected) {
    throw new HandshakeError(`descriptor peer id ${descriptor.peerId} does not match the connection's peer ${expected}`)
  }
  if (!policy.supportedProtocolVersions.includes(descriptor.protocolVersion)) {
    throw new UnsupportedVersionError(
      `peer ${expected} speaks vAIn protocol version ${descriptor.protocolVersion}; supported: ${policy.supportedProtocolVersions.join(', ')}`,
    )
  }
  const skew = descriptor.timestamp - policy.now
  if (Math.abs(skew) > policy.maxClockSkewMs) {
    throw new HandshakeError(
      `descriptor timestamp of ${expected} is ${Math.abs(skew)} ms in the ${skew > 0 ? 'future' : 'past'} (max skew ${policy.maxClockSkewMs} ms)`,
    )
  }
  return descriptor
}
