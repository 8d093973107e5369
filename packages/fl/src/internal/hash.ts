/**
 * sha2-256 as lowercase hex, for the package's own content hashes (model files, registry
 * versions). Internal: not re-exported by any entry point — users hash with `node:crypto`.
 * @module
 */
import { createHash } from 'node:crypto'
import { ConfigError } from '../errors.js'

/** sha2-256 of bytes as lowercase hex (`sha256Hex(new Uint8Array())` is `'e3b0c442…b855'`). */
export function sha256Hex(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new ConfigError('sha256Hex needs a Uint8Array')
  return createHash('sha256').update(bytes).digest('hex')
}
