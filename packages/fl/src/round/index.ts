/**
 * `@vain/fl/round` — the decentralized federated round: a small driver ({@link createParticipant})
 * that runs, for each round, the parts this node plays ({@link defaultParts}: trainers, committee,
 * regional, root and secure-aggregation members), pure admission checks on each message's header
 * ({@link admitUpdate}, {@link admitJob}), the result book, contributor-set agreement, signed
 * messages (the exact bytes sent are signed), and the ports a node implements (transport, model
 * store, job state, eligibility). In-process implementations of the ports
 * ({@link createLocalNetwork}) serve simulations and tests.
 *
 * @example
 * ```ts
 * import { createLocalNetwork, createParticipant, inMemoryJobStateStore, runtimeFactory, staticEligibility } from '@vain/fl/round'
 *
 * const net = createLocalNetwork()
 * const a = net.join('a')
 * const participant = createParticipant({
 *   transport: a.transport,
 *   models: a.models,
 *   state: inMemoryJobStateStore(),
 *   policy: staticEligibility(['a']),
 *   runtime: runtimeFactory(),
 *   roles: { trainer: false, aggregator: true },
 * })
 * await participant.start()
 * await participant.stop()
 * ```
 * @packageDocumentation
 */
export * from './admission.js'
export { agreedEntries, HoldingsBoard, identicalMajority } from './agreement.js'
export * from './capacity.js'
export * from './committee.js'
export * from './driver.js'
export * from './envelope.js'
export * from './errors.js'
export type * from './events.js'
export { COMMITTEE_SCOPE, type HeldUpdate, Inbox, partialScope } from './inbox.js'
export * from './jobs.js'
export * from './local-network.js'
export * from './messages.js'
export * from './parts/index.js'
export type * from './ports.js'
export * from './proofs.js'
export { type Dissent, majorityResult, ResultBook, tally } from './result-book.js'
export * from './runtime.js'
export {
  authenticateSecAgg,
  MAX_TRAINERS,
  type SecureAggregate,
  type SecureRoundMemberInit,
  type SecureRoundRef,
  secAggContext,
} from './secure/common.js'
export {
  bytesToMasked,
  decodeSecAggFrame,
  encodeSecAggFrame,
  InvalidSecAggMessageError,
  MAX_SECAGG_HEADER_BYTES,
  MAX_SECAGG_HEADER_DEPTH,
  maskedToBytes,
  meanFromSum,
  type RosterEntry,
  RosterEntrySchema,
  rosterHash,
  SECAGG_PROTOCOL_VERSION,
  SECAGG_STAGE_FRACTIONS,
  type SecAggRequest,
  SecAggRequestSchema,
  type SecAggResponse,
  SecAggResponseSchema,
  SecureRoundError,
  type SignedRoster,
  SignedRosterSchema,
  type SignedSurvivors,
  SignedSurvivorsSchema,
  secAggSigningBytes,
  secAggThreshold,
  verifyCoordinatorSigned,
} from './secure/frames.js'
export { SecureRoundMember } from './secure/member.js'
export { runSecureTrainer, type SecureTrainerInit, type SecureTrainerOutcome } from './secure/trainer.js'
export * from './spec.js'
