/**
 * Deterministic committee selection: every honest node computes the same committee from the same
 * eligible set and seed (the previous model's hash). Stake-weighted sampling without replacement
 * (Efraimidis–Spirakis: key = u^(1/w), u from sha2-256(seed ‖ peer)), ties broken by peer id.
 * @module
 */
import { createHash } from 'node:crypto'

/** A node that may serve on a committee, with its weight (e.g. stake × tier). */
export interface EligibleNode {
  peerId: string
  weight: number
}

/**
 * Choose `size` members.
 *
 * @example
 * ```ts
 * const committee = selectCommittee([{ peerId: 'a', weight: 1 }, { peerId: 'b', weight: 2 }], modelHash, 1)
 * ```
 */
export function selectCommittee(eligible: readonly EligibleNode[], seed: string, size: number): string[] {
  const seen = new Set<string>()
  const keyed: Array<{ peerId: string; key: number }> = []
  for (const node of eligible) {
    if (seen.has(node.peerId) || !(node.weight > 0) || !Number.isFinite(node.weight)) continue
    seen.add(node.peerId)
    const h = createHash('sha256').update(`${seed}\u0000${node.peerId}`).digest()
    // 52 random bits → u in (0, 1)
    const u = (h.readUIntBE(0, 6) * 2 ** -48 + h.readUInt8(6) * 2 ** -56 + 2 ** -60) % 1 || 2 ** -60
    keyed.push({ peerId: node.peerId, key: Math.log(u) / node.weight })
  }
  keyed.sort((a, b) => (b.key !== a.key ? b.key - a.key : a.peerId < b.peerId ? -1 : 1))
  return keyed.slice(0, Math.max(0, size)).map((k) => k.peerId)
}

/** Votes needed for a majority of a committee of `size`. */
export function majority(size: number): number {
  return Math.floor(size / 2) + 1
}

/**
 * The region of a trainer in a hierarchical job: sha2-256 of the job and the peer id, mod the
 * number of regions — every node computes the same assignment without a directory.
 *
 * @example
 * ```ts
 * regionOf(jobId, peerId, 4) // 0..3
 * ```
 */
export function regionOf(jobId: string, peerId: string, regions: number): number {
  return createHash('sha256').update(`vain-region\u0000${jobId}\u0000${peerId}`).digest().readUInt32BE(0) % regions
}

/**
 * The seed of a round's committee: the job, the round's base model, the round and the attempt
 * (and the region, for a regional committee of a hierarchical job). One definition, used by the
 * driver and by a node catching up.
 */
export function committeeSeed(
  jobId: string,
  baseModel: string,
  round: number,
  attempt: number,
  region?: number,
): string {
  const base = `${jobId}:${baseModel}:${round}:${attempt}`
  return region === undefined ? base : `${base}:region:${region}`
}
