/**
 * The updates a node holds for the round that runs, by scope: the round's committee
 * ({@link COMMITTEE_SCOPE}), a region's committee (the region's index), or the regional
 * aggregates a root member receives ({@link partialScope}). Parts wait on it for what they need.
 * @module
 */
import type { UpdateMeta } from './messages.js'

/** Scope of the round's committee. */
export const COMMITTEE_SCOPE = -1
/** Scope of the regional aggregates of region `r` that a root member holds (keyed by sender). */
export const partialScope = (r: number): number => 256 + r

/** An accepted update: its signed header, payload, decoded delta and staleness in rounds. */
export interface HeldUpdate {
  header: UpdateMeta
  payload: Uint8Array
  delta: Float32Array
  staleness: number
  /** Proven updates: the digest of its verified proofs (see `round/proofs.ts`). */
  proofDigest?: string | undefined
}

/** Accepted updates of one round, with waits that end on arrival, deadline or abort. */
export class Inbox {
  private readonly scopes = new Map<number, Map<string, HeldUpdate>>()
  private readonly waiters = new Set<() => void>()
  /** Payload bytes held. */
  bytes = 0

  /** Updates held in `scope`, by trainer (by sender for partial scopes). */
  held(scope: number): ReadonlyMap<string, HeldUpdate> {
    return this.scopes.get(scope) ?? new Map()
  }

  has(scope: number, key: string): boolean {
    return this.scopes.get(scope)?.has(key) === true
  }

  get(scope: number, key: string): HeldUpdate | undefined {
    return this.scopes.get(scope)?.get(key)
  }

  add(scope: number, key: string, update: HeldUpdate): void {
    let held = this.scopes.get(scope)
    if (held === undefined) {
      held = new Map()
      this.scopes.set(scope, held)
    }
    held.set(key, update)
    this.bytes += update.payload.byteLength
    for (const wake of [...this.waiters]) wake()
  }

  /** Resolves once `ready()` holds (checked now and on each arrival), after `ms`, or on abort. */
  until(ready: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
    return waitFor(this.waiters, ready, ms, signal)
  }
}

/** Wait on a set of wake-up callbacks: resolves when `ready()`, after `ms`, or on abort. */
export function waitFor(
  waiters: Set<() => void>,
  ready: () => boolean,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted || ready()) return resolve()
    const timer = setTimeout(done, Math.max(0, ms))
    function done(): void {
      clearTimeout(timer)
      waiters.delete(check)
      signal.removeEventListener('abort', done)
      resolve()
    }
    function check(): void {
      if (ready()) done()
    }
    waiters.add(check)
    signal.addEventListener('abort', done, { once: true })
  })
}
