/**
 * The round's {@link JobStateStore} on `@vain/memory`'s crash-safe state snapshots
 * (`memory.state()`): one key per job (its 64-hex id), validated with a zod schema on save and
 * on restore.
 * @module
 */
import { CorruptedValueError, type Memory, SchemaMismatchError, type StateStore } from '@vain/memory'
import { z } from 'zod'
import { SignedMessageSchema } from '../../round/envelope.js'
import type { JobStateStore, PersistedJobState } from '../../round/ports.js'
import { Hex64Schema, ModelAddressSchema } from '../../round/spec.js'

const round = z.number().int().nonnegative().max(1e9)

/** zod schema of a persisted job state (unknown fields are kept, for newer versions). */
export const PersistedJobStateSchema = z.looseObject({
  announcement: SignedMessageSchema,
  jobId: Hex64Schema,
  round,
  attempt: z.number().int().min(0).max(100),
  model: ModelAddressSchema,
  history: z
    .array(
      z.looseObject({
        round,
        model: ModelAddressSchema,
        contributions: z.number().int().nonnegative(),
        completedAt: z.number().nonnegative(),
      }),
    )
    .max(1_000_000),
  finished: z.boolean(),
  paused: z.boolean().exactOptional(),
  lastResults: z.array(SignedMessageSchema).max(1_000).exactOptional(),
})

// a field the round adds to PersistedJobState must be added to the schema (this fails to compile)
type Check<T extends PersistedJobState> = T
export type PersistedJobStateOutput = Check<z.output<typeof PersistedJobStateSchema>>

const JOB_ID = /^[0-9a-f]{64}$/
/** Prefix of the key a damaged job state is moved to (`quarantine.<jobId>`). */
export const QUARANTINE_PREFIX = 'quarantine.'

/**
 * A saved job state that does not load (damaged bytes, a shape or schema version this code does
 * not read): it was moved to `setAsideAs` in the same
 * state store (kept for inspection, never loaded again) and the job is not resumed.
 */
export class DamagedJobStateError extends Error {
  static override name = 'DamagedJobStateError'
  override name = 'DamagedJobStateError'
  readonly jobId: string
  /** Key it was moved to in the state store. */
  readonly setAsideAs: string
  constructor(jobId: string, setAsideAs: string, reason: string, options?: ErrorOptions) {
    super(`job state ${jobId} does not load and was set aside as ${setAsideAs}: ${reason}`, options)
    this.jobId = jobId
    this.setAsideAs = setAsideAs
  }
}

/** A state that is saved under another job's id. */
class MisplacedJobStateError extends Error {
  override name = 'MisplacedJobStateError'
}

/** Options of {@link memoryJobStateStore}. */
export interface MemoryJobStateStoreOptions {
  /** Name of the state store in `memory`. Default `vain-fl-jobs`. */
  name?: string
  /** Revisions kept per job. Default 3. */
  history?: number
}

/** A {@link JobStateStore} on `@vain/memory`, with the underlying state store. */
export interface MemoryJobStateStore extends JobStateStore {
  readonly states: StateStore<typeof PersistedJobStateSchema>
  /** Ids of the jobs whose state was set aside (see {@link DamagedJobStateError}). */
  quarantined(): string[]
}

/**
 * Persist the round's job states in a started `@vain/memory` store (LMDB transactions: a crash
 * leaves the previous or the new state, never a torn one).
 *
 * `save` refuses an invalid state with `SchemaMismatchError` (nothing is saved) and resolves
 * once the state is fsync'ed (a durable state store: it survives a power loss whatever the
 * memory's `disk.durability`). `load` returns `undefined` for an unknown job or a key that is
 * not a job id; a state that does not load — damaged bytes, the wrong shape, a newer schema
 * version, saved under another job's id — is moved to
 * `quarantine.<jobId>` (kept, never loaded again; `list` no longer names it) and `load` throws
 * {@link DamagedJobStateError} once, naming the job and why.
 *
 * @example
 * ```ts
 * import { createMemory } from '@vain/memory'
 * import { memoryJobStateStore } from '@vain/fl/vain-memory'
 *
 * const memory = createMemory({ path: './data/memory' })
 * await memory.start()
 * const state = memoryJobStateStore(memory) // pass to createParticipant({ state, … })
 * console.log(await state.list()) // ids of the jobs saved so far
 * ```
 */
export function memoryJobStateStore(memory: Memory, options: MemoryJobStateStoreOptions = {}): MemoryJobStateStore {
  const states = memory.state(options.name ?? 'vain-fl-jobs', {
    schema: PersistedJobStateSchema,
    version: 1,
    history: options.history ?? 3,
    durable: true,
  })
  return {
    states,
    load: async (jobId) => {
      if (typeof jobId !== 'string' || !JOB_ID.test(jobId)) return undefined
      try {
        const value = states.restore(jobId)?.value
        if (value === undefined) return undefined
        if (value.jobId !== jobId) {
          throw new MisplacedJobStateError(`saved under ${jobId}, it is the state of job ${value.jobId}`)
        }
        return value
      } catch (err) {
        if (
          !(err instanceof CorruptedValueError) &&
          !(err instanceof SchemaMismatchError) &&
          !(err instanceof MisplacedJobStateError)
        ) {
          throw err // the store, not the state (closed, I/O): nothing is set aside
        }
        const setAsideAs = `${QUARANTINE_PREFIX}${jobId}`
        await states.move(jobId, setAsideAs)
        throw new DamagedJobStateError(jobId, setAsideAs, `${(err as Error).name}: ${(err as Error).message}`, {
          cause: err,
        })
      }
    },
    save: async (state) => {
      const checked = PersistedJobStateSchema.safeParse(state)
      if (!checked.success) {
        throw new SchemaMismatchError(
          `${states.name}: refusing to save a job state that does not match the schema`,
          checked.error.issues
            .slice(0, 10)
            .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`),
        )
      }
      await states.save(state.jobId, { ...state })
    },
    list: async () => states.keys().filter((key) => JOB_ID.test(key)),
    setAside: async (jobId) => {
      if (JOB_ID.test(jobId) && states.keys().includes(jobId)) await states.move(jobId, `${QUARANTINE_PREFIX}${jobId}`)
    },
    quarantined: () =>
      states
        .keys()
        .filter((key) => key.startsWith(QUARANTINE_PREFIX))
        .map((key) => key.slice(QUARANTINE_PREFIX.length)),
  }
}
