/**
 * Peer discovery for vAIn nodes, as js-libp2p service factories:
 *
 * - {@link peerExchange}: `/vain/pex/1.0.0`, connected peers swap signed peer records;
 * - {@link peerCache}: known peers persisted to a JSON file and redialled after a restart;
 * - {@link bootstrapWithRedial}: bootstrap peers redialled with backoff while under `minPeers`;
 * - {@link dhtOptions} / {@link mdnsOptions}: kad-dht and mDNS settings by address policy.
 *
 * Each service is a libp2p `PeerDiscovery` (it emits `peer`); put it under `services` so
 * libp2p picks up its discovery events and the app can reach it as `node.services.<name>`.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { identify } from '@libp2p/identify'
 * import { kadDHT } from '@libp2p/kad-dht'
 * import { ping } from '@libp2p/ping'
 * import { bootstrapWithRedial, dhtOptions, peerCache, peerExchange } from '@vain/net'
 *
 * const node = await createLibp2p({
 *   privateKey,
 *   // ...addresses, transports, connectionEncrypters, streamMuxers
 *   services: {
 *     identify: identify(),
 *     ping: ping({ maxOutboundStreams: 16 }),
 *     dht: kadDHT(dhtOptions({ addressPolicy: 'lan' })),
 *     bootstrap: bootstrapWithRedial({ list: bootstrapAddrs, minPeers: 3 }),
 *     peerCache: peerCache({ path: `${dataDir}/peers.json` }),
 *     pex: peerExchange({ targetPeers: 20 }),
 *   },
 * })
 * ```
 * @module
 */
export {
  type BootstrapPeerStatus,
  type BootstrapStats,
  type BootstrapWithRedial,
  type BootstrapWithRedialInit,
  bootstrapWithRedial,
  parseBootstrapList,
} from './bootstrap.js'
export type {
  DiscoveryComponents,
  DiscoveryConnectionManager,
  DiscoveryRegistrar,
  PeerExchangeComponents,
} from './components.js'
export {
  type AddressPolicy,
  addressPolicyMapper,
  type DhtOptionsInit,
  dhtOptions,
  type MdnsOptionsInit,
  mdnsOptions,
  VAIN_KAD_PROTOCOL,
} from './dht.js'
export {
  type CachedPeer,
  type PeerCache,
  type PeerCacheEvents,
  type PeerCacheInit,
  type PeerCacheStats,
  peerCache,
} from './peer-cache.js'
export {
  type ExchangeResult,
  type PeerExchange,
  type PeerExchangeEvents,
  type PeerExchangeInit,
  type PeerExchangeStats,
  peerExchange,
} from './pex.js'
export { AUTHENTICATED_PEER_TAG, PEX_PROTOCOL } from './pex-messages.js'
export { type VerifiedPeerRecord, verifySignedPeerRecord } from './records.js'
export { type BackoffInit, backoffDelay } from './util.js'
