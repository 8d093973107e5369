/**
 * @packageDocumentation
 *
 * `@vain/net` — the peer-to-peer layer of vAIn: a libp2p node with TCP/WebSockets, noise and
 * yamux; discovery by bootstrap (with redial), Kademlia DHT, mDNS and peer exchange of signed
 * peer records, persisted across restarts; a persistent Ed25519 identity and an authenticated
 * handshake; typed request/response and streaming protocols with backpressure; adaptive
 * compression; rate limits, circuit breakers and connection pooling; typed gossip.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * import { createNode, defineRequestProtocol } from '@vain/net'
 *
 * const echo = defineRequestProtocol({
 *   id: '/example/echo/1.0.0',
 *   request: z.object({ text: z.string() }),
 *   response: z.object({ text: z.string() }),
 * })
 *
 * const a = await createNode({ profile: 'loopback' })
 * await a.start()
 * await a.handle(echo, (req) => ({ text: req.text.toUpperCase() }))
 *
 * const b = await createNode({ profile: 'loopback', bootstrap: a.multiaddrs.map(String) })
 * await b.start()
 * await b.connect(a.multiaddrs[0]!)
 * console.log(await b.request(a.peerId, echo, { text: 'hello' })) // { text: 'HELLO' }
 *
 * await Promise.all([a.stop(), b.stop()])
 * ```
 */
export * from './auth/index.js'
export * from './compression/index.js'
export * from './config.js'
export * from './discovery/index.js'
export * from './errors.js'
export * from './gossip/index.js'
export * from './identity/index.js'
export * from './limits/index.js'
export * from './node.js'
export * from './pool/index.js'
export * from './protocols/index.js'
export * from './sessions/index.js'
export * from './wire/index.js'
