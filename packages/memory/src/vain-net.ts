/**
 * @packageDocumentation
 *
 * `@vain/memory/vain-net` — the blob-sharing network port on `@vain/net`. A separate entry so
 * that `@vain/memory` itself never loads the libp2p stack: only code that shares blobs over the
 * network imports this.
 *
 * @example
 * ```ts
 * import { createNode } from '@vain/net'
 * import { createBlobSharing } from '@vain/memory'
 * import { vainNetBlobNetwork } from '@vain/memory/vain-net'
 *
 * const node = await createNode({ profile: 'loopback' })
 * await node.start()
 * const sharing = createBlobSharing({ memory, network: vainNetBlobNetwork(node) })
 * await sharing.start()
 * ```
 */
export * from './sharing/vain-net.js'
