/**
 * The slices of libp2p's components bag that the discovery services use. libp2p passes its
 * whole components object; these structural types name only what each service touches, so a
 * unit test can stub them without building a node (and without depending on
 * `@libp2p/interface-internal`).
 * @module
 */
import type {
  AbortOptions,
  ComponentLogger,
  Connection,
  Libp2pEvents,
  PeerId,
  PeerStore,
  StreamHandler,
  StreamHandlerOptions,
} from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventTarget } from 'main-event'

/** The part of libp2p's connection manager the discovery services call. */
export interface DiscoveryConnectionManager {
  /** Open connections, all or to one peer. */
  getConnections(peerId?: PeerId): Connection[]
  /** Dial a peer (by id, using the peer store's addresses) or a multiaddr. */
  openConnection(
    peer: PeerId | Multiaddr | Multiaddr[],
    options?: AbortOptions & { priority?: number },
  ): Promise<Connection>
}

/** The part of libp2p's registrar the discovery services call. */
export interface DiscoveryRegistrar {
  handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
  unhandle(protocol: string, options?: AbortOptions): Promise<void>
}

/** Components every discovery service receives from libp2p. */
export interface DiscoveryComponents {
  peerId: PeerId
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  peerStore: PeerStore
  connectionManager: DiscoveryConnectionManager
}

/** Components of {@link peerExchange}: the common ones plus the registrar. */
export interface PeerExchangeComponents extends DiscoveryComponents {
  registrar: DiscoveryRegistrar
}

/** The set of peers with at least one open connection, keyed by peer id string. */
export function connectedPeers(connectionManager: DiscoveryConnectionManager): Set<string> {
  const peers = new Set<string>()
  for (const conn of connectionManager.getConnections()) {
    if (conn.status === 'open') peers.add(conn.remotePeer.toString())
  }
  return peers
}
