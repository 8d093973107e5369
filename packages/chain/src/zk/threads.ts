/**
 * snarkjs runs the curve arithmetic of proving and verifying in worker threads that belong to one
 * process-wide bn128 curve object (`globalThis.curve_bn128`), and never stops them by itself: a
 * process that proved once does not exit. This module counts the users of that curve across every
 * `@vain/chain/zk` prover and call (the count lives on `globalThis` under a `Symbol.for` key, so two
 * copies of the package share it) and terminates the threads when the last user is done.
 * @module
 */

interface Bn128Curve {
  terminate(): Promise<void>
}
interface CurveUsers {
  count: number
  /** The curve built on first acquire, kept here because `globalThis.curve_bn128` can be wiped. */
  curve: Bn128Curve | null
  /** Serialises building and terminating the curve (ffjavascript's build is not re-entrant). */
  queue: Promise<unknown>
}

const KEY = Symbol.for('@vain/chain/zk:bn128-users')

function users(): CurveUsers {
  const g = globalThis as unknown as Record<symbol, CurveUsers | undefined>
  let u = g[KEY]
  if (u === undefined) {
    u = { count: 0, curve: null, queue: Promise.resolve() }
    g[KEY] = u
  }
  return u
}

function serial<T>(fn: () => Promise<T>): Promise<T> {
  const u = users()
  const next = u.queue.then(fn, fn)
  u.queue = next.catch(() => undefined)
  return next
}

/**
 * Marks one more user of snarkjs' bn128 worker threads and builds the curve (starting its threads)
 * if none is running. Pair every call with {@link releaseBn128}.
 */
export function acquireBn128(): Promise<void> {
  return serial(async () => {
    const u = users()
    u.count++
    // Every copy of ffjavascript sets `globalThis.curve_bn128 = null` when it is first loaded, which
    // orphans a running curve (its threads live on, snarkjs builds a second one). circomlibjs brings
    // its own copy: load it before building the curve, and keep our own reference anyway.
    await import('circomlibjs')
    const { curves } = (await import('snarkjs')) as unknown as {
      curves: { getCurveFromName(name: string): Promise<Bn128Curve> }
    }
    u.curve = await curves.getCurveFromName('bn128')
  })
}

async function terminateAll(): Promise<void> {
  const u = users()
  const global = (globalThis as { curve_bn128?: Bn128Curve | null }).curve_bn128
  const held = u.curve
  u.curve = null
  if (held) await held.terminate()
  if (global && global !== held) await global.terminate()
}

/** Drops one user; the last one out terminates snarkjs' bn128 worker threads. */
export function releaseBn128(): Promise<void> {
  return serial(async () => {
    const u = users()
    u.count = Math.max(0, u.count - 1)
    if (u.count === 0) await terminateAll()
  })
}

/**
 * Terminates snarkjs' bn128 worker threads now, whoever uses them (`globalThis.curve_bn128`):
 * for test teardown and process exit. Provers still open rebuild the curve on their next proof.
 *
 * @example
 * ```ts
 * import { terminateZkThreads } from '@vain/chain/zk'
 * afterAll(() => terminateZkThreads())
 * ```
 */
export function terminateZkThreads(): Promise<void> {
  return serial(terminateAll)
}
