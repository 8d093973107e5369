/**
 * @packageDocumentation
 *
 * `@vain/chain/settlement` — the settlement of federated rounds on chain, the consensus rules
 * every node computes identically, in one place: settlement votes and their gossip schema
 * ({@link SettleVoteSchema}), the chain round key ({@link roundKey}), the model hash of a model
 * address ({@link modelHashOf}), the quorum ({@link settleQuorum}, the round's majority), who
 * settles and when ({@link settlePlan}), the reward split ({@link rewardLeavesOf}: an equal share per
 * accepted contribution, never by what a trainer reports), the chain round's deadline
 * ({@link chainRoundSeconds}; a funder's node refunds its rounds left unsettled, {@link refundExpired}), vote checks
 * ({@link verifySettleVote}) and slashing evidence ({@link dissentEvidence}); and the part a node
 * plugs in ({@link createSettlement}) with its ports: the chain client, a gossip channel for votes,
 * a logger, and the round participant's events (`@vain/fl`'s `Participant`). It also carries the
 * eligibility policy read from chain ({@link chainEligibilityPolicy}), the job admission policy
 * (`settlement.jobPolicy`: staked creators who fund their rounds) and the chain event watcher
 * ({@link createChainWatcher}).
 *
 * Needs the optional peer dependency `@vain/fl` (for `majority` and its types).
 *
 * @example
 * ```ts
 * import { connectVain } from '@vain/chain'
 * import { createSettlement, SettleVoteSchema } from '@vain/chain/settlement'
 * import { createParticipant } from '@vain/fl'
 * import { defineTopic } from '@vain/net'
 *
 * const topic = defineTopic({ name: 'vain/settle/1', schema: SettleVoteSchema, maxBytes: 4096 })
 * const settlement = createSettlement({
 *   chain: { vain: connectVain({ rpcUrl, addresses, privateKey }) },
 *   gossip: { publish: (vote) => node.publish(topic, vote), subscribe: (handler) => node.subscribe(topic, handler) },
 *   self: node.peerId.toString(),
 * })
 * const participant = createParticipant({ ...components, policy: settlement.policy })
 * settlement.addEventListener('round:settled', (e) => console.log(`round ${e.detail.round} settled`))
 * await settlement.start(participant)
 * ```
 */
export {
  type ChainDirectory,
  type ChainDirectoryOptions,
  createChainDirectory,
  type PeerVerdict,
} from './directory.js'
export { InvalidModelAddressError, InvalidSettleVoteError } from './errors.js'
export { type ChainJobPolicy, DEFAULT_MAX_UNFUNDED_ROUNDS, JobCreatorRefusedError } from './jobs.js'
export {
  type ChainEligibilityPolicy,
  type ChainPolicyInit,
  chainEligibilityPolicy,
  type JobForEligibility,
} from './policy.js'
export type {
  SettlementChain,
  SettlementLogger,
  SettlementParticipant,
  SettlementParticipantEvents,
  SettleVoteGossip,
} from './ports.js'
export { REFUND_SWEEP_MS, refundExpired } from './refunding.js'
export {
  chainRoundSeconds,
  dissentEvidence,
  modelHashOf,
  type RewardShare,
  reputationPerContribution,
  rewardLeavesOf,
  rewardPerContribution,
  roundKey,
  SETTLE_STAGGER_MS,
  type SignedResult,
  settlementResultKey,
  settlePlan,
  settleQuorum,
} from './rules.js'
export {
  createSettlement,
  type ProtocolRoundOf,
  type Settlement,
  type SettlementEvents,
  type SettlementInit,
  type SettlementStats,
} from './settlement.js'
export {
  type SettleVote,
  type SettleVoteRound,
  SettleVoteSchema,
  settlementResultOfVote,
  settleVoteOf,
  verifySettleVote,
} from './votes.js'
export {
  type CancelledRound,
  type ChainWatcher,
  type ChainWatcherInit,
  type ClaimedReward,
  createChainWatcher,
  type OpenedRound,
  type SettledRound,
  type SlashedDissenter,
  type WatcherHandlers,
} from './watcher.js'
