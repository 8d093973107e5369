/**
 * Contributor-set agreement. When a deadline cuts updates off, committee members may hold
 * different updates; if each aggregated what it holds, honest members would sign different
 * results and an honest minority could be slashed. So when a member stops taking updates it
 * gossips its signed **holdings** (trainer and payload hash of each update it holds), waits for
 * the other members' holdings, and aggregates exactly the updates that a **majority of the
 * committee** holds ({@link agreedEntries}) — passing the agreed updates it holds to members that
 * lack them and waiting for those it lacks. An update that reached only a minority is left out
 * by every member alike.
 * @module
 */
import { majority } from './committee.js'
import { type HeldUpdate, waitFor } from './inbox.js'
import { type HeldEntry, type Holdings, signRoundMessage } from './messages.js'
import type { PartContext } from './parts/types.js'
import { ROUND_PROTOCOL_VERSION } from './spec.js'

/**
 * The entries that at least a majority of a committee of `committeeSize` list, sorted by
 * trainer. Pure: every member that saw the same holdings computes the same set.
 *
 * @example
 * ```ts
 * agreedEntries([{ held: [a, b] }, { held: [a] }, { held: [a, b] }], 3) // [a, b]
 * ```
 */
export function agreedEntries(holdings: Iterable<{ held: readonly HeldEntry[] }>, committeeSize: number): HeldEntry[] {
  const counts = new Map<string, { entry: HeldEntry; n: number }>()
  for (const h of holdings) {
    const seen = new Set<string>()
    for (const e of h.held) {
      const key = `${e.trainer}\u0000${e.payloadHash}`
      if (seen.has(key)) continue
      seen.add(key)
      const c = counts.get(key)
      if (c === undefined) counts.set(key, { entry: { trainer: e.trainer, payloadHash: e.payloadHash }, n: 1 })
      else c.n += 1
    }
  }
  const need = majority(committeeSize)
  return [...counts.values()]
    .filter((c) => c.n >= need)
    .map((c) => c.entry)
    .sort((a, b) => compare(a.trainer, b.trainer) || compare(a.payloadHash, b.payloadHash))
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Holdings of the running round's members, by scope and member; waits end on arrival. */
export class HoldingsBoard {
  private readonly scopes = new Map<number, Map<string, Holdings>>()
  private readonly waiters = new Set<() => void>()
  private readonly listeners = new Set<(h: Holdings) => void>()

  add(h: Holdings): void {
    let scope = this.scopes.get(h.scope)
    if (scope === undefined) {
      scope = new Map()
      this.scopes.set(h.scope, scope)
    }
    if (scope.has(h.member)) return
    scope.set(h.member, h)
    for (const listen of [...this.listeners]) listen(h)
    for (const wake of [...this.waiters]) wake()
  }

  /** Call `listener` for each holdings added from now on; returns a function that stops it. */
  onAdd(listener: (h: Holdings) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get(scope: number): ReadonlyMap<string, Holdings> {
    return this.scopes.get(scope) ?? new Map()
  }

  until(ready: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
    return waitFor(this.waiters, ready, ms, signal)
  }
}

/**
 * Run the agreement for `scope` among `members` (this node one of them): publish this member's
 * holdings, collect the others' (up to `waitMs`), and return the agreed updates — or a reason why
 * this member cannot aggregate them (an agreed update never reached it).
 */
export async function agreeOnContributors(
  ctx: PartContext,
  scope: number,
  members: readonly string[],
  waitMs: number,
): Promise<HeldUpdate[] | { failure: string }> {
  const { services, job, round } = ctx
  const signal = job.signal
  const mine = new Map(round.inbox.held(scope))
  if (members.length === 1) return sorted([...mine.values()])
  const holdings = await signRoundMessage(
    'holdings',
    {
      v: ROUND_PROTOCOL_VERSION,
      jobId: job.jobId,
      round: round.round,
      attempt: round.attempt,
      baseModel: round.baseModel,
      scope,
      member: services.self,
      held: sorted([...mine.values()]).map((u) => ({ trainer: u.header.trainer, payloadHash: u.header.payloadHash })),
    },
    (d) => services.transport.sign(d),
  )
  round.holdings.add(holdings)
  await services.transport.publish('holdings', holdings.envelope).catch(() => {})
  const board = round.holdings
  const isMember = (m: string): boolean => members.includes(m)
  const received = (): Holdings[] => [...board.get(scope).values()].filter((h) => isMember(h.member))
  // every member's holdings, or — sooner — a majority that hold the same set: no holdings still to
  // come can change the outcome then (see agreedEntries)
  await board.until(
    () => received().length >= members.length || identicalMajority(received(), members.length),
    waitMs,
    signal,
  )
  const agreed = agreedEntries(received(), members.length)
  // pass on the agreed updates this member holds to members whose holdings lack them — also to
  // those whose holdings arrive later, while the round runs
  const forward = (h: Holdings): void => {
    if (h.scope !== scope || h.member === services.self || !isMember(h.member)) return
    const theirs = new Set(h.held.map((e) => `${e.trainer}\u0000${e.payloadHash}`))
    for (const e of agreed) {
      const u = mine.get(e.trainer)
      if (u === undefined || u.header.payloadHash !== e.payloadHash || theirs.has(`${e.trainer}\u0000${e.payloadHash}`))
        continue
      services.transport.sendUpdate(h.member, u.header.envelope, u.payload, { signal }).catch(() => {})
    }
  }
  round.cleanup.push(board.onAdd(forward))
  for (const h of received()) forward(h)
  const holds = (e: HeldEntry): boolean => round.inbox.get(scope, e.trainer)?.header.payloadHash === e.payloadHash
  await round.inbox.until(() => agreed.every(holds), waitMs, signal)
  const missing = agreed.filter((e) => !holds(e))
  services.emit('contributors:agreed', {
    jobId: job.jobId,
    round: round.round,
    scope,
    held: mine.size,
    agreed: agreed.length,
    fetched: agreed.filter((e) => mine.get(e.trainer)?.header.payloadHash !== e.payloadHash).length - missing.length,
  })
  if (missing.length > 0) {
    return { failure: `${missing.length} update(s) a majority of members hold never reached this member` }
  }
  return agreed.map((e) => round.inbox.get(scope, e.trainer) as HeldUpdate)
}

/**
 * True when at least a majority of a committee of `committeeSize` declared the same set: then
 * every entry of that set is held by a majority and no other entry can be, whatever the other
 * members hold, so {@link agreedEntries} of any superset of these holdings is that set.
 */
export function identicalMajority(holdings: readonly { held: readonly HeldEntry[] }[], committeeSize: number): boolean {
  const counts = new Map<string, number>()
  for (const h of holdings) {
    const key = h.held
      .map((e) => `${e.trainer}\u0000${e.payloadHash}`)
      .sort()
      .join('\u0001')
    const n = (counts.get(key) ?? 0) + 1
    if (n >= majority(committeeSize)) return true
    counts.set(key, n)
  }
  return false
}

function sorted(updates: HeldUpdate[]): HeldUpdate[] {
  return updates.sort((a, b) =>
    a.header.trainer < b.header.trainer ? -1 : a.header.trainer > b.header.trainer ? 1 : 0,
  )
}
