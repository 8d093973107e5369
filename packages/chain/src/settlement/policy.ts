/**
 * Eligibility read from chain: the round's policy becomes "staked and tier >= the tier the role
 * requires" ({@link checkEligibility}), with peer ids mapped to addresses through the
 * NodeRegistry and committee weights from stake. While the chain is unreachable the last
 * standings read are used and the outage is reported once.
 * @module
 */
import { formatEther } from 'viem'
import type { NodeStanding } from '../client.js'
import type { RoleTiers } from '../eligibility.js'
import { findUnavailable } from '../retry.js'
import type { ChainDirectory, PeerVerdict } from './directory.js'
import type { SettlementLogger } from './ports.js'

/**
 * What the policy reads of a job: its creator-signed allow-lists (as in `@vain/fl`'s job spec).
 *
 * @example
 * ```ts
 * const job: JobForEligibility = { spec: { participants: { aggregators: [peerA, peerB] } } }
 * ```
 */
export interface JobForEligibility {
  spec: {
    participants?: { aggregators?: readonly string[] | undefined; trainers?: readonly string[] | undefined } | undefined
  }
}

/**
 * A round eligibility policy (structurally `@vain/fl`'s `EligibilityPolicy`): who may sit on a
 * committee, with its weight, and which trainers are expected.
 *
 * @example
 * ```ts
 * const candidates = await policy.committeeCandidates(job, 0) // [{ peerId, weight: stake in VAIN }]
 * ```
 */
export interface ChainEligibilityPolicy {
  committeeCandidates(job: JobForEligibility, round: number): Promise<Array<{ peerId: string; weight: number }>>
  expectedTrainers(job: JobForEligibility, round: number): Promise<string[]>
}

/**
 * Options of {@link chainEligibilityPolicy}.
 *
 * @example
 * ```ts
 * const init: ChainPolicyInit = { directory, log, roleTiers: roleTiersWith({ aggregator: 2 }), self: peerId }
 * ```
 */
export interface ChainPolicyInit {
  directory: ChainDirectory
  log: SettlementLogger
  roleTiers: RoleTiers
  /** This node's peer id: its own refusals are reported by the node, not here. */
  self: string
  /** Resolves once the registry's past events are known (for jobs without allow-lists). */
  synced?: () => Promise<void>
}

/**
 * The round's eligibility from chain. Candidates for a committee are the job's signed aggregator
 * allow-list (or every registered node when the job has none) that are staked and of the
 * aggregator tier, weighted by stake (in VAIN); expected trainers likewise with the trainer
 * tier. Refused peers are logged once per reason.
 *
 * @example
 * ```ts
 * const policy = chainEligibilityPolicy({ directory: createChainDirectory(vain), log, roleTiers: DEFAULT_ROLE_TIERS, self })
 * const participant = createParticipant({ transport, models, state, policy, runtime, roles })
 * ```
 */
export function chainEligibilityPolicy(init: ChainPolicyInit): ChainEligibilityPolicy {
  const { directory, log, roleTiers } = init
  const reported = new Map<string, string>()
  let downReported = false

  async function eligible(peers: readonly string[], role: string): Promise<PeerVerdict[]> {
    const verdicts = await Promise.all(
      peers.map(async (peerId): Promise<PeerVerdict | undefined> => {
        try {
          return await directory.verdict(peerId, role, roleTiers)
        } catch (err) {
          if (findUnavailable(err) !== undefined) {
            if (!downReported) {
              downReported = true
              log.warn(`chain unreachable: cannot check who may be ${role}; retrying at the next round`, {
                error: (err as Error).name,
              })
            }
          } else log.warn(`cannot read the standing of ${peerId}`, { error: (err as Error).message })
          return undefined
        }
      }),
    )
    if (!directory.chainDown) downReported = false
    for (const v of verdicts) {
      if (v === undefined) continue
      const key = `${v.peerId}:${role}`
      const message = v.eligible ? '' : v.reason
      if (reported.get(key) !== message && v.peerId !== init.self) {
        if (!v.eligible) log.info(`peer …${v.peerId.slice(-6)} refused the ${role} role: ${v.reason.split('\n')[0]}`)
        else if (reported.has(key)) log.info(`peer …${v.peerId.slice(-6)} is now eligible as ${role}`)
      }
      reported.set(key, message)
    }
    return verdicts.filter((v): v is PeerVerdict => v !== undefined)
  }

  const stakeWeight = (standing: NodeStanding): number => Number(formatEther(standing.staked))

  return {
    async committeeCandidates(job) {
      const list = job.spec.participants?.aggregators
      if (list === undefined) await init.synced?.()
      const verdicts = await eligible(list ?? directory.registeredPeers(), 'aggregator')
      return verdicts.flatMap((v) => (v.eligible ? [{ peerId: v.peerId, weight: stakeWeight(v.standing) }] : []))
    },
    async expectedTrainers(job) {
      const list = job.spec.participants?.trainers
      if (list === undefined) await init.synced?.()
      const verdicts = await eligible(list ?? directory.registeredPeers(), 'trainer')
      return verdicts.flatMap((v) => (v.eligible ? [v.peerId] : []))
    },
  }
}
