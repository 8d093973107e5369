/**
 * Content-addressed model storage on disk (`<dataDir>/models/<sha256>`), and fetching a model by
 * hash from peers that have it (`/vain/model/1.0.0`), verifying the hash of what arrives.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { type ModelStore, sha256 } from '@vain/fl'
import { defineRequestProtocol, type VainNode } from '@vain/net'
import { z } from 'zod'

const hash = z.string().regex(/^[0-9a-f]{64}$/)

export const MODEL_PROTOCOL = defineRequestProtocol({
  id: '/vain/model/1.0.0',
  request: z.strictObject({ hash }),
  response: z.strictObject({ bytes: z.custom<Uint8Array>((v) => v instanceof Uint8Array).nullable() }),
  maxResponseBytes: 128 * 1024 * 1024,
  timeoutMs: 30_000,
})

/** Thrown when no peer could provide a model. */
export class ModelNotFoundError extends Error {
  static override name = 'ModelNotFoundError'
  override name = 'ModelNotFoundError'
}

/** Disk-backed model store that serves and fetches models over the network. */
export async function diskModelStore(
  node: VainNode,
  dir: string,
): Promise<ModelStore & { has(hash: string): Promise<boolean> }> {
  await mkdir(dir, { recursive: true })
  const path = (h: string) => join(dir, h)
  const readLocal = async (h: string): Promise<Uint8Array | undefined> => {
    try {
      const bytes = new Uint8Array(await readFile(path(h)))
      return sha256(bytes) === h ? bytes : undefined
    } catch {
      return undefined
    }
  }
  const writeLocal = async (bytes: Uint8Array): Promise<string> => {
    const h = sha256(bytes)
    const tmp = `${path(h)}.${randomBytes(4).toString('hex')}.tmp`
    await writeFile(tmp, bytes)
    await rename(tmp, path(h))
    return h
  }
  await node.handle(MODEL_PROTOCOL, async (req) => ({ bytes: (await readLocal(req.hash)) ?? null }))
  return {
    put: writeLocal,
    has: async (h) => (await readLocal(h)) !== undefined,
    get: async (h, options = {}) => {
      const local = await readLocal(h)
      if (local !== undefined) return local
      const candidates = [...new Set([...(options.providers ?? []), ...node.authenticatedPeers().map(String)])].filter(
        (p) => p !== node.peerId.toString(),
      )
      const errors: string[] = []
      for (const provider of candidates) {
        if (options.signal?.aborted === true) break
        try {
          const { bytes } = await node.request(
            peerIdFromString(provider),
            MODEL_PROTOCOL,
            { hash: h },
            {
              ...(options.signal !== undefined ? { signal: options.signal } : {}),
            },
          )
          if (bytes === null) continue
          if (sha256(bytes) !== h) {
            errors.push(`${provider.slice(-6)} sent bytes that do not match the hash`)
            continue
          }
          await writeLocal(bytes)
          return bytes
        } catch (err) {
          errors.push(`${provider.slice(-6)}: ${(err as Error).name}`)
        }
      }
      throw new ModelNotFoundError(
        `no peer provided model ${h.slice(0, 12)}… (${errors.slice(0, 4).join('; ') || 'no providers'})`,
      )
    },
  }
}
