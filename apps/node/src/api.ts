/**
 * The node's local REST API token. The API itself is in ./http (fastify with zod schemas and an
 * OpenAPI document): see {@link startApiServer}.
 *
 * Every state-changing request needs `Authorization: Bearer <token>`, the token being the node's
 * `<dataDir>/api-token` (random, 32 bytes hex, mode 0600, created on first start).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export { type ApiServer, type ApiServerOptions, startApiServer } from './http/server.js'

/** The file, in a node's data dir, that holds its REST API token. */
export const API_TOKEN_FILE = 'api-token'

/**
 * The node's REST API token: `<dataDir>/api-token`, created on first use (32 random bytes, hex,
 * mode 0600) and read back after.
 */
export async function loadApiToken(dataDir: string): Promise<string> {
  const file = join(dataDir, API_TOKEN_FILE)
  await mkdir(dataDir, { recursive: true })
  const token = randomBytes(32).toString('hex')
  try {
    await writeFile(file, `${token}\n`, { flag: 'wx', mode: 0o600 })
    return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const existing = (await readFile(file, 'utf8')).trim()
  if (existing.length < 32) {
    throw new Error(`${file} does not hold an API token (delete it and a new one is created at the next start)`)
  }
  // whoever can read the token can drive the node: keep it the owner's
  await chmod(file, 0o600)
  return existing
}
