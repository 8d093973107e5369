/**
 * The node's configuration: one zod schema with documented defaults. Everything a user, a
 * config file or a CLI flag passes to {@link createNode} goes through {@link parseNodeConfig};
 * bad input becomes a {@link ConfigError} that lists every problem with its path.
 * @module
 */
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { CapacityAdvertSchema, NODE_ROLES } from './auth/descriptor.js'
import { ConfigError } from './errors.js'
import type { InboundLimitsInit } from './limits/inbound-limits.js'

const multiaddrString = z.string().refine(
  (s) => {
    try {
      multiaddr(s)
      return true
    } catch {
      return false
    }
  },
  { message: 'not a valid multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)' },
)

const bootstrapAddr = multiaddrString.refine((s) => s.includes('/p2p/'), {
  message: 'a bootstrap address must end with /p2p/<peer id>',
})

const chainAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')

const positiveMs = z
  .number()
  .int()
  .positive()
  .max(24 * 3600_000)

/** The full configuration schema (input: everything optional; output: defaults filled in). */
export const NodeConfigSchema = z
  .object({
    /** Directory for the identity key and the peer cache. Without it the node is ephemeral. */
    dataDir: z.string().min(1).optional(),
    /**
     * Identity: key file (default `<dataDir>/identity.key`), optional passphrase, and the key type
     * of a new identity (default Ed25519; `secp256k1` for nodes that stake, whose peer id the
     * NodeRegistry binds with an on-chain signature check). An existing key file keeps its type.
     */
    identity: z
      .object({
        path: z.string().min(1).optional(),
        passphrase: z.string().min(1).optional(),
        keyType: z.enum(['Ed25519', 'secp256k1']).optional(),
      })
      .strict()
      .default({}),
    /** Listen addresses. TCP and WebSockets (`/ws`) are supported. */
    listen: z.array(multiaddrString).min(1).default(['/ip4/127.0.0.1/tcp/0']),
    /** Addresses to announce instead of the listen addresses (e.g. behind NAT). */
    announce: z.array(multiaddrString).default([]),
    /** `loopback` (tests, demos on one machine), `lan`, or `public` (internet; strict filters). */
    profile: z.enum(['loopback', 'lan', 'public']).default('lan'),
    /** Bootstrap peers, each `/…/p2p/<peer id>`. */
    bootstrap: z.array(bootstrapAddr).default([]),
    /** Roles announced in the signed node descriptor. */
    roles: z.array(z.enum(NODE_ROLES)).min(1).max(NODE_ROLES.length).default(['trainer']),
    capabilities: z.array(z.string().min(1).max(64)).max(64).default([]),
    chainAddress: chainAddress.optional(),
    /**
     * Spare capacity advertised in the signed descriptor (e.g. from `@vain/resources`). Set once
     * at start, so every peer sees the same figures for this node's lifetime (a selection that
     * weighs them must agree across nodes).
     */
    capacity: CapacityAdvertSchema.optional(),
    /** Software version put in the signed node descriptor. */
    softwareVersion: z.string().min(1).max(64).default('0.1.0'),
    handshake: z
      .object({
        /** Require a successful vAIn handshake from every peer. */
        required: z.boolean().default(true),
        /** Disconnect and deny peers that have not completed the handshake by then. */
        graceMs: positiveMs.default(10_000),
        /** How long a peer that failed stays denied. */
        denyMs: positiveMs.default(10 * 60_000),
      })
      .strict()
      .default({ required: true, graceMs: 10_000, denyMs: 600_000 }),
    discovery: z
      .object({
        /** Peer exchange of signed peer records. */
        pex: z.boolean().default(true),
        pexIntervalMs: positiveMs.default(30_000),
        /**
         * Keep dialling discovered peers while below this many connections. Default 32; 12 with
         * the `loopback` profile, where many nodes share one machine: every connection costs
         * handshakes, identify, gossip heartbeats and pings, and N × 32 connections on one
         * machine kept a 50-node network busy forming instead of working.
         */
        targetPeers: z.number().int().min(0).max(10_000).optional(),
        /** Kademlia DHT (server mode). */
        dht: z.boolean().default(true),
        /** mDNS on the LAN. Off by default: it multicasts on the real interface. */
        mdns: z.boolean().default(false),
        /** Persist known peers in `<dataDir>/peers.json` and redial them on restart. */
        peerCache: z.boolean().default(true),
      })
      .strict()
      .default({ pex: true, pexIntervalMs: 30_000, dht: true, mdns: false, peerCache: true }),
    gossip: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .default({ enabled: true }),
    limits: z
      .object({
        /** Inbound token bucket per peer and protocol. */
        rateLimitCapacity: z.number().int().min(1).max(1_000_000).default(100),
        rateLimitRefillPerSecond: z.number().positive().max(1_000_000).default(50),
        /**
         * Inbound token bucket per protocol, shared by all peers: identities are free, so the
         * per-peer bucket alone lets N fresh identities take N times as much. 0 turns it off.
         */
        protocolRateLimitCapacity: z.number().int().min(0).max(10_000_000).default(1_000),
        protocolRateLimitRefillPerSecond: z.number().positive().max(10_000_000).default(500),
        /** Per-protocol shared budgets that differ from the above, keyed by protocol id. */
        protocolRateLimitOverrides: z
          .record(
            z.string().startsWith('/'),
            z
              .object({
                capacity: z.number().int().min(1).max(10_000_000).optional(),
                refillPerSecond: z.number().positive().max(10_000_000).optional(),
              })
              .strict(),
          )
          .default({}),
        /**
         * Inbound token bucket per source address range (IPv4 /24, IPv6 /48; all loopback
         * addresses are one range), all protocols together, shared by every peer in the range.
         * Default 500; 0 (off) with the `loopback` profile, where every peer is 127.0.0.1 —
         * set it there to test it. 0 turns it off.
         */
        rangeRateLimitCapacity: z.number().int().min(0).max(10_000_000).optional(),
        rangeRateLimitRefillPerSecond: z.number().positive().max(10_000_000).default(250),
        /**
         * Share (0–0.9) of each per-protocol budget kept for known peers: peers connected for
         * `knownPeerAfterMs` and not struck since (see `maxStrikes`). Newcomers, e.g. fresh
         * identities of a flood, only take the tokens above it. 0 turns it off.
         */
        protocolReservedForKnown: z.number().min(0).max(0.9).default(0.5),
        knownPeerAfterMs: positiveMs.default(10_000),
        /**
         * Refusals by a peer's own budget (strikes) tolerated within `strikeWindowMs`: the first
         * half are answered with `RateLimitedError`, the rest reset without an answer, and the
         * strike beyond bans the peer (connections closed, inbound connections refused) for
         * `banMs`; at most `maxBans` peers are banned at once. 0 turns strikes and bans off.
         */
        maxStrikes: z.number().int().min(0).max(100_000).default(40),
        strikeWindowMs: positiveMs.default(10_000),
        banMs: positiveMs.default(60_000),
        maxBans: z.number().int().min(1).max(1_000_000).default(1_000),
        /** Prefix lengths that make an address range. */
        rangeIPv4PrefixBits: z.number().int().min(8).max(32).default(24),
        rangeIPv6PrefixBits: z.number().int().min(16).max(128).default(48),
        /** Outbound circuit breaker: consecutive failures before it opens. */
        breakerFailureThreshold: z.number().int().min(1).max(1000).default(5),
        breakerBaseBackoffMs: positiveMs.default(1_000),
        breakerMaxBackoffMs: positiveMs.default(60_000),
        /** Largest control message (bytes). */
        maxMessageBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        /** Largest streamed payload (bytes). */
        maxPayloadBytes: z
          .number()
          .int()
          .min(1024)
          .max(8 * 1024 * 1024 * 1024)
          .default(1024 * 1024 * 1024),
        maxConnections: z.number().int().min(1).max(100_000).default(300),
      })
      .strict()
      .default({
        rateLimitCapacity: 100,
        rateLimitRefillPerSecond: 50,
        protocolRateLimitCapacity: 1_000,
        protocolRateLimitRefillPerSecond: 500,
        protocolRateLimitOverrides: {},
        rangeRateLimitRefillPerSecond: 250,
        protocolReservedForKnown: 0.5,
        knownPeerAfterMs: 10_000,
        maxStrikes: 40,
        strikeWindowMs: 10_000,
        banMs: 60_000,
        maxBans: 1_000,
        rangeIPv4PrefixBits: 24,
        rangeIPv6PrefixBits: 48,
        breakerFailureThreshold: 5,
        breakerBaseBackoffMs: 1_000,
        breakerMaxBackoffMs: 60_000,
        maxMessageBytes: 1024 * 1024,
        maxPayloadBytes: 1024 * 1024 * 1024,
        maxConnections: 300,
      }),
    pool: z
      .object({
        idleTtlMs: positiveMs.default(5 * 60_000),
        maxStreamsPerPeer: z.number().int().min(1).max(1024).default(16),
      })
      .strict()
      .default({ idleTtlMs: 300_000, maxStreamsPerPeer: 16 }),
    sessions: z
      .object({
        /** Ping authenticated peers this often to keep RTT figures fresh (0 = off). */
        rttProbeIntervalMs: z.number().int().min(0).max(3600_000).default(30_000),
      })
      .strict()
      .default({ rttProbeIntervalMs: 30_000 }),
    /**
     * Secure channels offered, in order of preference (multistream-select picks the first both
     * sides list): `noise` (Noise XX, ChaCha20-Poly1305 in JavaScript) and `tls` (TLS 1.3 via
     * Node's OpenSSL, AES-GCM with hardware support). A node listing only `tls` cannot connect to
     * one listing only `noise`; nodes that list both agree on the dialler's first choice, and
     * either list reaches a `noise`-only node. The vAIn handshake (signed descriptors) runs above
     * either. Default `['tls', 'noise']` with the `loopback` and `lan` profiles (TLS moved payload
     * streams 1.1–1.6× as fast as noise in the throughput benchmark), `['noise']` with `public`.
     */
    encryption: z
      .array(z.enum(['noise', 'tls']))
      .min(1)
      .max(2)
      .refine((a) => new Set(a).size === a.length, { message: 'each secure channel at most once' })
      .optional(),
    /**
     * yamux stream muxer tuning. A stream's receive window starts at `initialStreamWindowSize`
     * (default 256 KiB, the minimum) and grows up to `maxStreamWindowSize` (default 16 MiB);
     * `maxMessageSize` caps one data frame (default 64 KiB). Both ends should agree for the
     * window to matter: the sender is bound by the receiver's window.
     */
    muxer: z
      .object({
        initialStreamWindowSize: z
          .number()
          .int()
          .min(256 * 1024)
          .max(2 ** 31)
          .optional(),
        maxStreamWindowSize: z
          .number()
          .int()
          .min(256 * 1024)
          .max(2 ** 32 - 1)
          .optional(),
        maxMessageSize: z
          .number()
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .optional(),
      })
      .strict()
      .refine(
        (m) =>
          m.initialStreamWindowSize === undefined ||
          m.maxStreamWindowSize === undefined ||
          m.maxStreamWindowSize >= m.initialStreamWindowSize,
        { message: 'maxStreamWindowSize must be at least initialStreamWindowSize' },
      )
      .default({}),
    compression: z
      .object({
        /** Compress payload chunks when it pays off (size, compressibility, link speed). */
        enabled: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: true }),
  })
  .strict()

/**
 * The connections a node dials towards: `discovery.targetPeers`, or its profile's default (32; 12
 * on `loopback`).
 *
 * @example
 * ```ts
 * targetPeersOf(parseNodeConfig({ profile: 'loopback' })) // 12
 * ```
 */
export function targetPeersOf(config: Pick<NodeConfig, 'profile' | 'discovery'>): number {
  return config.discovery.targetPeers ?? (config.profile === 'loopback' ? 12 : 32)
}

/**
 * The secure channels a node offers, in order of preference: `encryption`, or its profile's
 * default (`['tls', 'noise']` on `loopback` and `lan`; `['noise']` on `public`).
 *
 * @example
 * ```ts
 * encryptionOf(parseNodeConfig({ profile: 'lan' })) // ['tls', 'noise']
 * ```
 */
export function encryptionOf(config: Pick<NodeConfig, 'profile' | 'encryption'>): Array<'noise' | 'tls'> {
  return config.encryption ?? (config.profile === 'public' ? ['noise'] : ['tls', 'noise'])
}

/**
 * The inbound budgets a node enforces, from `limits`: per peer and protocol, per protocol
 * (shared by all peers) and per address range (shared by the peers in it; off by default with
 * the `loopback` profile, where every peer is one range).
 *
 * @example
 * ```ts
 * inboundLimitsOf(parseNodeConfig({ profile: 'public' })).perRange // { capacity: 500, refillPerSecond: 250, … }
 * ```
 */
export function inboundLimitsOf(config: Pick<NodeConfig, 'profile' | 'limits'>): InboundLimitsInit {
  const l = config.limits
  const rangeCapacity = l.rangeRateLimitCapacity ?? (config.profile === 'loopback' ? 0 : 500)
  return {
    perPeer: { capacity: l.rateLimitCapacity, refillPerSecond: l.rateLimitRefillPerSecond },
    perProtocol:
      l.protocolRateLimitCapacity === 0
        ? false
        : {
            capacity: l.protocolRateLimitCapacity,
            refillPerSecond: l.protocolRateLimitRefillPerSecond,
            reservedForKnown: l.protocolReservedForKnown,
            overrides: Object.fromEntries(
              Object.entries(l.protocolRateLimitOverrides).map(([id, o]) => [
                id,
                {
                  ...(o.capacity !== undefined ? { capacity: o.capacity } : {}),
                  ...(o.refillPerSecond !== undefined ? { refillPerSecond: o.refillPerSecond } : {}),
                },
              ]),
            ),
          },
    perRange:
      rangeCapacity === 0
        ? false
        : {
            capacity: rangeCapacity,
            refillPerSecond: l.rangeRateLimitRefillPerSecond,
            ipv4PrefixBits: l.rangeIPv4PrefixBits,
            ipv6PrefixBits: l.rangeIPv6PrefixBits,
          },
  }
}

/** What callers pass: everything optional. */
export type NodeConfigInput = z.input<typeof NodeConfigSchema>
/** The validated config with defaults filled in. */
export type NodeConfig = z.output<typeof NodeConfigSchema>

/**
 * Validate a config object and fill in defaults.
 *
 * @throws {ConfigError} listing every invalid field with its path
 * @example
 * ```ts
 * const config = parseNodeConfig({ profile: 'loopback', bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…'] })
 * ```
 */
export function parseNodeConfig(input: unknown): NodeConfig {
  const result = NodeConfigSchema.safeParse(input ?? {})
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    throw new ConfigError('invalid vAIn node config', issues)
  }
  return result.data
}
