/**
 * Capacity-weighted committee selection: an {@link EligibilityPolicy} wrapper that tilts the
 * committee draw towards candidates with spare capacity (the score a node advertises in its signed
 * descriptor, e.g. from `@vain/resources`), without excluding anyone.
 *
 * The effect: a candidate's weight `w` becomes `w × (floor + (1 − floor) × q)`, where `q` is its
 * score rounded down to a multiple of `1 / steps` (default quarters). With the default floor 0.5,
 * a node with nothing to spare is drawn about half as often as an equal-stake node with all of
 * its budget free; stake, tier and reputation still decide who is eligible at all.
 *
 * Every member must compute the same committee, so every node must see the same score for each
 * candidate: advertise a score fixed for the node's lifetime (vAIn's node does: its descriptor is
 * made at start), keep `steps` coarse, and give the same `unknownScore` to candidates without one.
 * A node that holds no descriptor of a candidate (never connected to it) uses `unknownScore`; if
 * that differs from the candidate's advertised score, the nodes may disagree on the committee and
 * the round's attempt fails over to the next attempt's seed — which is why the node leaves it off
 * by default and a network turns it on where its members are well connected.
 * @module
 */
import type { EligibleNode } from './committee.js'
import type { EligibilityPolicy } from './ports.js'

/** Options of {@link capacityWeightedEligibility}. */
export interface CapacityWeightingOptions {
  /** A candidate's advertised score (0–1), or undefined when unknown. */
  scoreOf(peerId: string): number | undefined
  /** Weight kept by a candidate with score 0 (0–1). Default 0.5. */
  floor?: number
  /** Scores are rounded down to multiples of `1 / steps`. Default 4. */
  steps?: number
  /** Score of a candidate that advertises none. Default 0.5. */
  unknownScore?: number
}

/** The weighting {@link capacityWeightedEligibility} applies, for one candidate. */
export function capacityWeight(
  weight: number,
  score: number | undefined,
  { floor = 0.5, steps = 4, unknownScore = 0.5 }: Omit<CapacityWeightingOptions, 'scoreOf'> = {},
): number {
  const f = Math.max(0, Math.min(1, floor))
  const n = Math.max(1, Math.floor(steps))
  const raw = score === undefined || !Number.isFinite(score) ? unknownScore : score
  const q = Math.floor(Math.max(0, Math.min(1, raw)) * n + 1e-9) / n
  return weight * (f + (1 - f) * q)
}

/**
 * Wrap a policy so that its committee candidates are weighted by advertised spare capacity.
 *
 * @example
 * ```ts
 * const policy = capacityWeightedEligibility(chainPolicy, {
 *   scoreOf: (peer) => node.descriptor(peerIdFromString(peer))?.capacity?.score,
 * })
 * ```
 */
export function capacityWeightedEligibility(
  policy: EligibilityPolicy,
  options: CapacityWeightingOptions,
): EligibilityPolicy {
  const weigh = (candidates: EligibleNode[]): EligibleNode[] =>
    candidates.map((c) => ({ ...c, weight: capacityWeight(c.weight, options.scoreOf(c.peerId), options) }))
  const wrapped: EligibilityPolicy = {
    committeeCandidates: (job, round) => {
      const candidates = policy.committeeCandidates(job, round)
      return candidates instanceof Promise ? candidates.then(weigh) : weigh(candidates)
    },
  }
  if (policy.expectedTrainers !== undefined) {
    const expected = policy.expectedTrainers.bind(policy)
    wrapped.expectedTrainers = (job, round) => expected(job, round)
  }
  return wrapped
}
