/** sha2-256 hex of bytes (internal: not part of the package's API). */
import { createHash } from 'node:crypto'

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
