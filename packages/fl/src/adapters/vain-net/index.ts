/**
 * @packageDocumentation
 *
 * `@vain/fl/vain-net` — the round protocol's transport over a `@vain/net` libp2p node
 * ({@link roundTransport}). A separate entry: `@vain/fl` itself never loads the libp2p stack, and
 * `@vain/net` is an optional peer dependency that only this entry needs.
 *
 * @example
 * ```ts
 * import { createNode } from '@vain/net'
 * import { roundTransport } from '@vain/fl/vain-net'
 *
 * const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], profile: 'loopback' })
 * await node.start()
 * const transport = await roundTransport(node) // pass it to createParticipant({ transport, … })
 * await transport.stop()
 * await node.stop()
 * ```
 */
export * from './errors.js'
export * from './protocols.js'
export * from './transport.js'
