/**
 * Updates from external trainers (`POST /api/model/update`): a trainer outside the node (another
 * framework, another machine) trains a job's round model and hands the result to this node, which
 * sends it into the round as its own update. The update names a model the node holds (uploaded
 * with `POST /api/models`) and is signed with an Ed25519 key the node accepts: one of the public
 * keys (64 hex chars each, one a line) in `<dataDir>/trainer-keys`.
 *
 * What is signed: the UTF-8 bytes of `vain/model-update/v1\n` followed by the JSON
 * `{"jobId":…,"round":…,"model":…,"numSamples":…}` in that order ({@link updateSigningBytes}).
 * @module
 */
import { createPublicKey, verify } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { JobSpec, Learner, Model } from '@vain/fl'

/** The file, in a node's data dir, of the external trainers' public keys it accepts. */
export const TRAINER_KEYS_FILE = 'trainer-keys'

/** The fields an external trainer signs. */
export interface ModelUpdateFields {
  jobId: string
  /** The round the update is for (0-based, as the job status reports `round`). */
  round: number
  /** Content id of the trained model, stored on this node. */
  model: string
  numSamples: number
}

/** The bytes an external trainer signs with its Ed25519 key. */
export function updateSigningBytes(f: ModelUpdateFields): Uint8Array {
  const body = JSON.stringify({ jobId: f.jobId, round: f.round, model: f.model, numSamples: f.numSamples })
  return new TextEncoder().encode(`vain/model-update/v1\n${body}`)
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Whether `signature` (64 bytes) is `publicKey`'s (32 bytes, raw Ed25519) over the update. */
export function verifyUpdateSignature(f: ModelUpdateFields, publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    return verify(null, updateSigningBytes(f), key, signature)
  } catch {
    return false
  }
}

/** The trainer keys a node accepts: `<dataDir>/trainer-keys` (none when the file is missing). */
export async function loadTrainerKeys(dataDir: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(join(dataDir, TRAINER_KEYS_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim().toLowerCase())
    .filter((l) => /^[0-9a-f]{64}$/.test(l))
}

/** JSON with sorted keys: the same spec gives the same key however its objects were built. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  )
}

/** A queued external update. */
export interface QueuedUpdate extends ModelUpdateFields {
  /** The trainer's public key (hex). */
  trainer: string
  receivedAt: number
}

/**
 * Updates accepted through the API, waiting for their round: the node's learner
 * ({@link withExternalUpdates}) takes one instead of training on its own data.
 */
export class ExternalUpdates {
  private readonly queued = new Map<string, QueuedUpdate & { specKey: string }>()

  /** Queue an update for its job's round (replaces an earlier one for the same job). */
  add(update: QueuedUpdate, spec: JobSpec): void {
    this.queued.set(update.jobId, { ...update, specKey: canonical(spec) })
  }

  /** The update queued for a job, if any. */
  get(jobId: string): QueuedUpdate | undefined {
    const q = this.queued.get(jobId)
    if (q === undefined) return undefined
    const { specKey: _specKey, ...update } = q
    return update
  }

  /** Take the update queued for this spec's job and round (older rounds' are dropped). */
  take(spec: JobSpec, round: number): QueuedUpdate | undefined {
    const key = canonical(spec)
    for (const [jobId, q] of this.queued) {
      if (q.specKey !== key) continue
      if (q.round < round) this.queued.delete(jobId)
      else if (q.round === round) {
        this.queued.delete(jobId)
        const { specKey: _specKey, ...update } = q
        return update
      }
    }
    return undefined
  }
}

/**
 * A learner that sends an external trainer's queued update for the round instead of training, and
 * otherwise trains with `inner` (`loadModel` reads a content id into a model).
 */
export function withExternalUpdates(
  inner: Learner,
  updates: ExternalUpdates,
  loadModel: (address: string) => Promise<Model>,
): Learner {
  return {
    supports: (spec) => inner.supports(spec),
    ...(inner.numSamples !== undefined ? { numSamples: (spec: JobSpec) => inner.numSamples?.(spec) ?? 0 } : {}),
    async train(spec, model, round, options) {
      const external = updates.take(spec, round)
      if (external === undefined) return inner.train(spec, model, round, options)
      const trained = await loadModel(external.model)
      return { params: trained.params, numSamples: external.numSamples }
    },
  }
}
