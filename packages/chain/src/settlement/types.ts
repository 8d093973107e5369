/**
 * The public types of a node's settlement ({@link createSettlement}): its options, its events,
 * its statistics and the part itself. Kept apart so the parts that implement it (opening,
 * voting, claiming, slashing) can name them without importing the assembly.
 * @module
 */
import type { TypedEventTarget } from 'main-event'
import type { Hex } from 'viem'
import type { RoleTiers } from '../eligibility.js'
import type { PeerAddressMismatchError } from '../errors.js'
import type { ChainDirectory } from './directory.js'
import type { ChainJobPolicy } from './jobs.js'
import type { ChainEligibilityPolicy } from './policy.js'
import type { SettlementChain, SettlementLogger, SettlementParticipant, SettleVoteGossip } from './ports.js'
import type { CancelledRound, ClaimedReward, OpenedRound, SettledRound, SlashedDissenter } from './watcher.js'

/** Which protocol round a chain round belongs to, when this node knows (`undefined` otherwise).
 *
 * @example
 * ```ts
 * settlement.addEventListener('round:settled', (e) => console.log(e.detail.jobId, e.detail.round))
 * ```
 */
export interface ProtocolRoundOf {
  jobId: string | undefined
  round: number | undefined
}

/** Events of a {@link Settlement}.
 *
 * @example
 * ```ts
 * settlement.addEventListener('round:opened', (e) => console.log(e.detail.roundId, e.detail.byMe))
 * ```
 */
export interface SettlementEvents {
  /** The chain's events could not be read (the watcher retries). */
  'chain:down': CustomEvent<{ error: unknown }>
  /** The chain answers again. */
  'chain:up': CustomEvent<Record<string, never>>
  /** A chain round was opened (`byMe`: by this node, as the job's creator). */
  'round:opened': CustomEvent<OpenedRound & ProtocolRoundOf & { byMe: boolean }>
  /** This node signed the result it aggregated, as a member of the round's chain committee. */
  'vote:signed': CustomEvent<{ jobId: string; round: number; roundId: bigint; modelHash: Hex }>
  /** A chain round was settled (`byMe`: this node's transaction). */
  'round:settled': CustomEvent<SettledRound & ProtocolRoundOf & { byMe: boolean }>
  /**
   * A chain round was cancelled after its deadline, unsettled, and its pool refunded to its funder
   * (`byMe`: this node's transaction; `fundedByMe`: this node's account funded it).
   */
  'round:refunded': CustomEvent<CancelledRound & ProtocolRoundOf & { byMe: boolean; fundedByMe: boolean }>
  /** A reward was claimed (`byMe`: this node's account). */
  'reward:claimed': CustomEvent<ClaimedReward & ProtocolRoundOf & { byMe: boolean }>
  /** A committee member was slashed for signing another result than the settled one. */
  'dissenter:slashed': CustomEvent<SlashedDissenter>
  /**
   * The creator of a job this node runs opened no chain round for `rounds` completed rounds in a
   * row: its rounds are not funded (a node with the `staked` job policy cancels the job).
   */
  'job:unfunded': CustomEvent<{ jobId: string; rounds: number }>
}

/** Options of {@link createSettlement}.
 *
 * @example
 * ```ts
 * const init: SettlementInit = { chain: { vain }, gossip, self: peerId, rewardPerRound: parseEther('10') }
 * ```
 */
export interface SettlementInit {
  /**
   * The connection to the chain, or a promise of it while the node connects in the background
   * (`undefined`: it never connected). Settlement waits for it; a chain that is down never stops it.
   */
  chain: SettlementChain | Promise<SettlementChain | undefined>
  /** Gossip of settlement votes. */
  gossip: SettleVoteGossip
  /** This node's peer id (as the participant's events name nodes). */
  self: string
  log?: SettlementLogger
  /** Sign results as a committee member, claim rewards as a trainer (default true). */
  settle?: boolean
  /** Slash committee members proven to have signed another result than the settled one (default true). */
  slashDissenters?: boolean
  /** Reward pool of each round this node opens as a job's creator, in token wei (default 10 VAIN). */
  rewardPerRound?: bigint
  /**
   * Reputation each accepted contribution earns when claimed, at most the round's on-chain cap
   * (`RoundManager.maxReputationPerClaim` when it was opened). Default: that cap. Every committee
   * member must use the same figure (they sign the same reward tree): leave it unset.
   */
  reputationPerContribution?: bigint
  /**
   * Seconds a round opened on chain stays open for settlement (default: from the job's round
   * deadline, `chainRoundSeconds`: 3 × the round's deadline + 60 s; 3,600 when unknown). The pool
   * of a round not settled by then is refunded to this node (`round:refunded`).
   */
  roundDeadlineSeconds?: number
  /** Tier each role needs (default {@link DEFAULT_ROLE_TIERS}). */
  roleTiers?: RoleTiers
  /** How often to poll the chain's events (default 500 ms). */
  pollMs?: number
  /** First block to read the suite's events from (default 0). */
  fromBlock?: bigint
  /** Completed rounds in a row without a chain round before `job:unfunded` (default 3). */
  maxUnfundedRounds?: number
  /**
   * The chain address a peer claims in its signed handshake descriptor (e.g.
   * `(p) => node.descriptor(peerIdFromString(p))?.chainAddress`): a peer whose claim is not the
   * address the NodeRegistry binds to it is not eligible ({@link PeerAddressMismatchError}).
   */
  claimedAddressOf?: (peerId: string) => string | undefined
}

/** What a node settled and claimed so far.
 *
 * @example
 * ```ts
 * const { settled, claimed } = settlement.stats()
 * ```
 */
export interface SettlementStats {
  /** Rounds this node's transaction settled. */
  settled: number
  claimed: { rounds: number; amount: bigint }
  /** Rounds this node funded and refunded (cancelled after their deadline, unsettled), and their pools. */
  refunded: { rounds: number; amount: bigint }
}

/** A node's settlement (see {@link createSettlement}).
 *
 * @example
 * ```ts
 * const settlement: Settlement = createSettlement(init)
 * ```
 */
export interface Settlement extends TypedEventTarget<SettlementEvents> {
  /** The eligibility policy to give the participant (works before the chain is reachable). */
  readonly policy: ChainEligibilityPolicy
  /**
   * The job admission policy to give the participant (`jobPolicy`): a job's creator must be
   * registered, staked at the creators' tier the network sets and allowed to open (fund) rounds.
   */
  readonly jobPolicy: ChainJobPolicy
  /** Peer ids ↔ addresses and standings, once connected. */
  readonly directory: ChainDirectory | undefined
  /** Whether the chain's events could not be read at the last poll. */
  readonly down: boolean
  /** Resolves with the connection once settlement follows the chain (`undefined` if it never will). */
  ready(): Promise<SettlementChain | undefined>
  stats(): SettlementStats
  /** Follows `participant` and the gossip of votes, and the chain once it is connected. */
  start(participant: SettlementParticipant): Promise<void>
  /** Stops following; waits for the tasks in flight to end. */
  stop(): Promise<void>
}
