/**
 * The result book of a job: counts the signed results of the running round's committee, finds a
 * majority, keeps results for rounds this node has not reached (catch-up), and judges results
 * that arrive for completed rounds (a result contradicting the accepted model is evidence
 * against its signer).
 * @module
 */
import { majority } from './committee.js'
import { ForgedMessageError, type RoundProtocolError, StaleUpdateError } from './errors.js'
import type { RoundResult } from './messages.js'

/** Most results held for rounds this node has not reached… */
const MAX_AHEAD = 1024
/** …and the most bytes of their signed bodies (a result may list 100,000 contributions). */
const MAX_AHEAD_BYTES = 16 * 1024 * 1024
/** Completed rounds remembered to judge late results. */
const COMPLETED_KEPT = 16

/** A member's signed result that contradicts the model its round accepted. */
export interface Dissent {
  round: number
  member: string
  claimed: string
  majority: string
}

/**
 * Count `result` for a round with `baseModel` and `committee` into `results` (one per member).
 * Returns a typed error for a result on another base model or from outside the committee.
 */
export function tally(
  results: Map<string, RoundResult>,
  round: { baseModel: string; committee: readonly string[] },
  result: RoundResult,
): RoundProtocolError | undefined {
  if (result.baseModel !== round.baseModel) return new StaleUpdateError('result on another base model')
  if (!round.committee.includes(result.aggregator))
    return new ForgedMessageError('result from a node outside the committee')
  if (!results.has(result.aggregator)) results.set(result.aggregator, result)
  return undefined
}

/** The result a majority of a committee of `committeeSize` signed, if any. */
export function majorityResult(results: Iterable<RoundResult>, committeeSize: number): RoundResult | undefined {
  const groups = new Map<string, RoundResult[]>()
  for (const r of results) groups.set(r.newModel, [...(groups.get(r.newModel) ?? []), r])
  for (const group of groups.values()) if (group.length >= majority(committeeSize)) return group[0]
  return undefined
}

/** Completed rounds and results ahead of this node, per job. */
export class ResultBook {
  private readonly completed = new Map<number, { model: string; committee: readonly string[]; reported: Set<string> }>()
  private readonly ahead = new Map<string, RoundResult>()
  private aheadBytes = 0

  /** Remember a completed round's accepted model and committee. */
  complete(round: number, model: string, committee: readonly string[]): void {
    this.completed.set(round, { model, committee, reported: new Set() })
    if (this.completed.size > COMPLETED_KEPT) this.completed.delete(Math.min(...this.completed.keys()))
  }

  isCompleted(round: number): boolean {
    return this.completed.has(round)
  }

  /** A result for a completed round: the dissent it proves, once per member, if any. */
  judge(result: RoundResult): Dissent | undefined {
    const record = this.completed.get(result.round)
    if (record === undefined || result.newModel === record.model || !record.committee.includes(result.aggregator)) {
      return undefined
    }
    if (record.reported.has(result.aggregator)) return undefined
    record.reported.add(result.aggregator)
    return { round: result.round, member: result.aggregator, claimed: result.newModel, majority: record.model }
  }

  /** Keep a result for a round this node has not reached (bounded). */
  hold(result: RoundResult): void {
    const key = `${result.round}:${result.attempt}:${result.aggregator}`
    const size = result.envelope.body.byteLength
    if (this.ahead.has(key) || this.ahead.size >= MAX_AHEAD || this.aheadBytes + size > MAX_AHEAD_BYTES) return
    this.ahead.set(key, result)
    this.aheadBytes += size
  }

  /** Results held for `round`/`attempt` (removed from the book); older ones are dropped. */
  take(round: number, attempt: number): RoundResult[] {
    const out: RoundResult[] = []
    for (const [key, r] of this.ahead) {
      if (r.round < round) this.drop(key, r)
      else if (r.round === round && r.attempt === attempt) {
        this.drop(key, r)
        out.push(r)
      }
    }
    return out
  }

  private drop(key: string, r: RoundResult): void {
    this.ahead.delete(key)
    this.aheadBytes -= r.envelope.body.byteLength
  }

  /** Bytes of the signed bodies of the results held for later rounds. */
  get aheadBodyBytes(): number {
    return this.aheadBytes
  }

  /** Held results grouped by round, attempt, base and new model: candidates for catching up. */
  groups(fromRound: number): RoundResult[][] {
    const groups = new Map<string, RoundResult[]>()
    for (const r of this.ahead.values()) {
      if (r.round < fromRound) continue
      const key = `${r.round}:${r.attempt}:${r.baseModel}:${r.newModel}`
      groups.set(key, [...(groups.get(key) ?? []), r])
    }
    return [...groups.values()]
  }

  get aheadCount(): number {
    return this.ahead.size
  }
}
