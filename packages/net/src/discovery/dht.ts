/**
 * kad-dht settings for vAIn networks, by address policy, and the mDNS note.
 * @module
 */

import type { PeerInfo } from '@libp2p/interface'
import { type KadDHTInit, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import type { MulticastDNSInit } from '@libp2p/mdns'
import { isLinkLocal, isLoopback, isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { parseInit } from './util.js'

/** Protocol id of the vAIn DHT (kept apart from the public IPFS DHT). */
export const VAIN_KAD_PROTOCOL = '/vain/kad/1.0.0'

/**
 * Which peer addresses the DHT keeps and hands out:
 * - `public`: public addresses only (kad-dht's `removePrivateAddressesMapper`) — the Internet;
 * - `lan`: public, private (RFC 1918 etc.) and loopback — a LAN or a data centre;
 * - `loopback`: public and loopback — many nodes on one machine (tests, local demos).
 *
 * Link-local addresses are dropped by every policy (they need an interface zone to dial).
 */
export type AddressPolicy = 'loopback' | 'lan' | 'public'

/** Options of {@link dhtOptions}. */
export interface DhtOptionsInit {
  addressPolicy: AddressPolicy
  /** DHT protocol id. Default `/vain/kad/1.0.0`. */
  protocol?: string
  /** Extra kad-dht options, applied last (they win). */
  overrides?: KadDHTInit
}

const InitSchema = z
  .object({
    addressPolicy: z.enum(['loopback', 'lan', 'public']),
    protocol: z.string().startsWith('/').optional(),
    overrides: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()

/**
 * A `peerInfoMapper` for kad-dht that keeps the addresses `policy` allows.
 *
 * @example
 * ```ts
 * const mapper = addressPolicyMapper('loopback')
 * mapper({ id, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip4/10.0.0.2/tcp/4001')] })
 * // keeps only the 127.0.0.1 address
 * ```
 */
export function addressPolicyMapper(policy: AddressPolicy): (peer: PeerInfo) => PeerInfo {
  if (policy === 'public') return removePrivateAddressesMapper
  const keep =
    policy === 'lan'
      ? (ma: Multiaddr) => !isLinkLocal(ma)
      : (ma: Multiaddr) => isLoopback(ma) || (!isPrivate(ma) && !isLinkLocal(ma))
  return (peer) => ({ ...peer, multiaddrs: peer.multiaddrs.filter(keep) })
}

/**
 * kad-dht init options for a vAIn network: server mode (`clientMode: false`, so nodes on
 * loopback/LAN answer queries instead of waiting for a public address), the vAIn protocol id,
 * and a `peerInfoMapper` that matches `addressPolicy` (kad-dht's default mapper strips loopback
 * and private addresses, which silently breaks local networks). kad-dht also needs the `ping`
 * service with `maxOutboundStreams` > 1.
 *
 * @throws {ConfigError} on an unknown policy
 * @example
 * ```ts
 * import { kadDHT } from '@libp2p/kad-dht'
 * import { ping } from '@libp2p/ping'
 * import { dhtOptions } from '@vain/net'
 *
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers, identify
 *   services: {
 *     ping: ping({ maxOutboundStreams: 16 }),
 *     dht: kadDHT(dhtOptions({ addressPolicy: 'lan' })),
 *   },
 * })
 * ```
 */
export function dhtOptions(init: DhtOptionsInit): KadDHTInit {
  parseInit(InitSchema, init, 'dhtOptions')
  return {
    clientMode: false,
    protocol: init.protocol ?? VAIN_KAD_PROTOCOL,
    peerInfoMapper: addressPolicyMapper(init.addressPolicy),
    ...init.overrides,
  }
}

/** Options of {@link mdnsOptions}: `@libp2p/mdns` options plus an explicit on switch. */
export interface MdnsOptionsInit extends MulticastDNSInit {
  /** mDNS is off unless this is `true`. */
  enabled?: boolean
}

/**
 * mDNS passthrough. mDNS is **off by default**: it multicasts on the real network interface,
 * so it must never be enabled in tests on the host network. Returns the `@libp2p/mdns` init
 * when `enabled: true`, otherwise `undefined`.
 *
 * @example
 * ```ts
 * import { mdns } from '@libp2p/mdns'
 * import { mdnsOptions } from '@vain/net'
 *
 * const mdnsInit = mdnsOptions({ enabled: config.lanDiscovery, interval: 10_000 })
 * const node = await createLibp2p({
 *   // ...
 *   peerDiscovery: mdnsInit === undefined ? [] : [mdns(mdnsInit)],
 * })
 * ```
 */
export function mdnsOptions(init: MdnsOptionsInit = {}): MulticastDNSInit | undefined {
  const { enabled, ...rest } = init
  return enabled === true ? rest : undefined
}
