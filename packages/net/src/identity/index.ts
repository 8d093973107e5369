/**
 * Persistent node identity: an Ed25519 key (or secp256k1, for nodes that stake: the NodeRegistry
 * checks its signature on chain) kept in a JSON key file (mode 0600), optionally sealed with a
 * passphrase (scrypt + AES-256-GCM).
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { loadOrCreateIdentity } from '@vain/net'
 *
 * const identity = await loadOrCreateIdentity({ path: './data/identity.json', passphrase: 'correct horse' })
 * const node = await createLibp2p({ privateKey: identity.privateKey })
 * console.log(node.peerId.equals(identity.peerId)) // true
 * ```
 * @module
 */

export type { IdentityKeyType, ScryptParams } from './key-file.js'
export {
  DEFAULT_SCRYPT_PARAMS,
  IDENTITY_FILE_FORMAT,
  IDENTITY_FILE_VERSION,
  IDENTITY_KEY_TYPES,
  MAX_IDENTITY_FILE_BYTES,
} from './key-file.js'
export type { IdentityOptions, NodeIdentity } from './load.js'
export { loadOrCreateIdentity } from './load.js'
