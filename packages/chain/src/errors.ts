/**
 * Errors thrown by `@vain/chain`. Each class has a `name` that says what happened (the js-libp2p
 * convention), a `shortMessage` that says why in one line, and the original viem error as
 * `cause`. Reverts from the vAIn contracts are decoded into these classes by {@link decodeRevert}:
 * a call that reverted with `StakeTooLow(node, staked, required)` throws a
 * {@link StakeTooLowError} whose message reads
 * `node 0xf39F… has 50 VAIN staked but needs at least 100 VAIN`.
 *
 * @example
 * ```ts
 * import { StakeTooLowError } from '@vain/chain'
 * try {
 *   await vain.registry.register(peerKey) // the node's secp256k1 libp2p key
 * } catch (err) {
 *   if (err instanceof StakeTooLowError) console.log(`stake ${err.required - err.staked} more`)
 *   else throw err
 * }
 * ```
 * @module
 */
import {
  type Abi,
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  formatEther,
  type Hex,
  HttpRequestError,
  RpcRequestError,
  TimeoutError,
} from 'viem'
import { allVainAbis } from './abi-all.js'
import { roleName as roleName_ } from './roles.js'

/** Options common to every vAIn chain error. */
export interface ChainErrorOptions {
  cause?: unknown
  /** Extra lines of explanation (what to do about it). */
  details?: string
}

/** Base class of every error `@vain/chain` throws on purpose. */
export class VainChainError extends Error {
  static override name = 'VainChainError'
  override name = 'VainChainError'
  /** One line saying what went wrong, without details or cause. */
  readonly shortMessage: string
  readonly details: string | undefined
  constructor(shortMessage: string, options: ChainErrorOptions = {}) {
    super(
      options.details === undefined ? shortMessage : `${shortMessage}\n${options.details}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.shortMessage = shortMessage
    this.details = options.details
  }
}

/** A contract call reverted. `errorName` and `args` are the decoded custom error (if any). */
export class ContractRevertError extends VainChainError {
  static override name = 'ContractRevertError'
  override name = 'ContractRevertError'
  /** The Solidity error's name, e.g. `CooldownActive`; `undefined` for a revert without data. */
  readonly errorName: string | undefined
  /** The Solidity error's arguments, in order. */
  readonly args: readonly unknown[]
  constructor(
    shortMessage: string,
    errorName: string | undefined,
    args: readonly unknown[],
    options: ChainErrorOptions = {},
  ) {
    super(shortMessage, options)
    this.errorName = errorName
    this.args = args
  }
}

/** The node's stake is below what the action (or role) needs. */
export class StakeTooLowError extends ContractRevertError {
  static override name = 'StakeTooLowError'
  override name = 'StakeTooLowError'
  readonly node: Address
  readonly staked: bigint
  readonly required: bigint
  constructor(node: Address, staked: bigint, required: bigint, options: ChainErrorOptions = {}) {
    super(
      `node ${node} has ${vain(staked)} staked but needs at least ${vain(required)}`,
      'StakeTooLow',
      [node, staked, required],
      options,
    )
    this.node = node
    this.staked = staked
    this.required = required
  }
}

/** The node's tier (from stake and reputation) is below what the action (or role) needs. */
export class TierTooLowError extends ContractRevertError {
  static override name = 'TierTooLowError'
  override name = 'TierTooLowError'
  readonly node: Address
  readonly tier: number
  readonly required: number
  constructor(node: Address, tier: number, required: number, options: ChainErrorOptions = {}) {
    super(
      `node ${node} is ${tier === 0 ? 'not in any tier' : `tier ${tier}`} but needs tier ${required} or higher`,
      'TierTooLow',
      [node, tier, required],
      options,
    )
    this.node = node
    this.tier = tier
    this.required = required
  }
}

/** Unstaked tokens are still in their cooldown. */
export class CooldownActiveError extends ContractRevertError {
  static override name = 'CooldownActiveError'
  override name = 'CooldownActiveError'
  /** Unix seconds at which the pending stake can be withdrawn. */
  readonly unlockAt: bigint
  constructor(unlockAt: bigint, options: ChainErrorOptions = {}) {
    super(
      `unstaked tokens are locked until ${new Date(Number(unlockAt) * 1000).toISOString()} (cooldown not over)`,
      'CooldownActive',
      [unlockAt],
      options,
    )
    this.unlockAt = unlockAt
  }
}

/** Asked to unstake more than is staked. */
export class InsufficientStakeError extends ContractRevertError {
  static override name = 'InsufficientStakeError'
  override name = 'InsufficientStakeError'
  readonly available: bigint
  readonly requested: bigint
  constructor(available: bigint, requested: bigint, options: ChainErrorOptions = {}) {
    super(
      `cannot unstake ${vain(requested)}: only ${vain(available)} is staked`,
      'InsufficientStake',
      [available, requested],
      options,
    )
    this.available = available
    this.requested = requested
  }
}

/** The sender lacks the role a privileged function needs (OpenZeppelin AccessControl). */
export class UnauthorizedError extends ContractRevertError {
  static override name = 'UnauthorizedError'
  override name = 'UnauthorizedError'
  readonly account: Address
  readonly role: Hex
  /** The role's name when it is one of the vAIn roles, else the role hash. */
  readonly roleName: string
  constructor(account: Address, role: Hex, options: ChainErrorOptions = {}) {
    const roleName = roleName_(role)
    super(`account ${account} lacks the ${roleName} role`, 'AccessControlUnauthorizedAccount', [account, role], options)
    this.account = account
    this.role = role
    this.roleName = roleName
  }
}

/** The voter already voted on this proposal. */
export class AlreadyVotedError extends ContractRevertError {
  static override name = 'AlreadyVotedError'
  override name = 'AlreadyVotedError'
}

/** The voter had no stake, or was in no tier, at the proposal's snapshot: it has no vote on it. */
export class NoVotingPowerError extends ContractRevertError {
  static override name = 'NoVotingPowerError'
  override name = 'NoVotingPowerError'
}

/**
 * A cooldown (Staking.setCooldown) or voting period (Governance.setParams) that would make the
 * unstake cooldown no longer than the voting period. `args`: [cooldown, votingPeriod] in seconds.
 */
export class CooldownNotLongerThanVotingError extends ContractRevertError {
  static override name = 'CooldownNotLongerThanVotingError'
  override name = 'CooldownNotLongerThanVotingError'
}

/** The reward of this round was already claimed for this account. */
export class AlreadyClaimedError extends ContractRevertError {
  static override name = 'AlreadyClaimedError'
  override name = 'AlreadyClaimedError'
}

/** The Merkle proof does not lead to the round's root. */
export class InvalidProofError extends ContractRevertError {
  static override name = 'InvalidProofError'
  override name = 'InvalidProofError'
}

/** Fewer committee members signed than the round's quorum. */
export class QuorumNotReachedError extends ContractRevertError {
  static override name = 'QuorumNotReachedError'
  override name = 'QuorumNotReachedError'
}

/** A signer is not on the round's committee. */
export class NotCommitteeMemberError extends ContractRevertError {
  static override name = 'NotCommitteeMemberError'
  override name = 'NotCommitteeMemberError'
}

/** A governance proposal is still in its timelock. */
export class TimelockActiveError extends ContractRevertError {
  static override name = 'TimelockActiveError'
  override name = 'TimelockActiveError'
}

/**
 * A challenge of an update proof (ProofChallenges) whose proof verifies: the challenge fails and
 * nothing changes. Also thrown by `challengeUpdateProof` before sending when no chunk fails.
 */
export class ProofIsValidError extends ContractRevertError {
  static override name = 'ProofIsValidError'
  override name = 'ProofIsValidError'
}

/** A challenge of this trainer's leaf in this round was upheld already (it was slashed once). */
export class ChallengeAlreadyUpheldError extends ContractRevertError {
  static override name = 'ChallengeAlreadyUpheldError'
  override name = 'ChallengeAlreadyUpheldError'
}

/** The challenged reward leaf and its Merkle proof do not lead to the round's rewards root. */
export class LeafNotInRootError extends ContractRevertError {
  static override name = 'LeafNotInRootError'
  override name = 'LeafNotInRootError'
}

/**
 * The leaf's commitment is not the proof digest of the payload hash and chunk leaves given: the
 * proofs are not the ones the committee settled. `args`: [commitment, digest].
 */
export class ProofDigestMismatchError extends ContractRevertError {
  static override name = 'ProofDigestMismatchError'
  override name = 'ProofDigestMismatchError'
}

/** The chunk leaf at the challenged index is not the hash of the proof given. */
export class ChunkLeafMismatchError extends ContractRevertError {
  static override name = 'ChunkLeafMismatchError'
  override name = 'ChunkLeafMismatchError'
}

/** The challenged chunk index is not below the number of chunk leaves. */
export class ChunkIndexOutOfRangeError extends ContractRevertError {
  static override name = 'ChunkIndexOutOfRangeError'
  override name = 'ChunkIndexOutOfRangeError'
}

/** The chain could not be reached (connection refused, timeout, HTTP error) after all retries. */
export class ChainUnavailableError extends VainChainError {
  static override name = 'ChainUnavailableError'
  override name = 'ChainUnavailableError'
  readonly attempts: number
  constructor(shortMessage: string, attempts: number, options: ChainErrorOptions = {}) {
    super(shortMessage, options)
    this.attempts = attempts
  }
}

/** A write was asked of a client built without a wallet (account). */
export class NoWalletError extends VainChainError {
  static override name = 'NoWalletError'
  override name = 'NoWalletError'
  constructor() {
    super('this client has no wallet: pass `walletClient` (with an account) to send transactions')
  }
}

/** The transaction was mined but reverted. */
export class TransactionRevertedError extends VainChainError {
  static override name = 'TransactionRevertedError'
  override name = 'TransactionRevertedError'
  readonly hash: Hex
  constructor(hash: Hex, options: ChainErrorOptions = {}) {
    super(`transaction ${hash} reverted`, options)
    this.hash = hash
  }
}

/** Bad input to a `@vain/chain` function (deployment parameters, a reward tree dump...). */
export class InvalidInputError extends VainChainError {
  static override name = 'InvalidInputError'
  override name = 'InvalidInputError'
}

/** A role the role→tier map (`RoleTiers`) does not name was asked about (a typo, or a role without a tier). */
export class UnknownRoleError extends VainChainError {
  static override name = 'UnknownRoleError'
  override name = 'UnknownRoleError'
  /** The role asked about. */
  readonly role: string
  /** The roles the map names. */
  readonly known: readonly string[]
  constructor(role: string, known: readonly string[], options: ChainErrorOptions = {}) {
    super(`unknown role ${JSON.stringify(role)}: no tier is set for it (roles: ${known.join(', ')})`, options)
    this.role = role
    this.known = known
  }
}

/**
 * A peer key that cannot be bound on chain: the NodeRegistry checks secp256k1 libp2p keys only
 * (an Ed25519 identity must be replaced by a secp256k1 one before the node stakes).
 */
export class UnsupportedPeerKeyError extends VainChainError {
  static override name = 'UnsupportedPeerKeyError'
  override name = 'UnsupportedPeerKeyError'
}

/** A peer key's signature of a peer-id binding is malformed or not by that key. */
export class PeerKeySignatureError extends VainChainError {
  static override name = 'PeerKeySignatureError'
  override name = 'PeerKeySignatureError'
}

/**
 * A peer claims a chain address (in its signed handshake descriptor) other than the one the
 * NodeRegistry binds to its peer id: it is not treated as registered.
 */
export class PeerAddressMismatchError extends VainChainError {
  static override name = 'PeerAddressMismatchError'
  override name = 'PeerAddressMismatchError'
  readonly peerId: string
  /** The address the peer claims. */
  readonly claimed: string
  /** The address bound to the peer id on chain (`undefined`: none). */
  readonly registered: Address | undefined
  constructor(peerId: string, claimed: string, registered: Address | undefined, options: ChainErrorOptions = {}) {
    super(
      registered === undefined
        ? `peer ${peerId} claims chain address ${claimed}, but no address is bound to it in the NodeRegistry`
        : `peer ${peerId} claims chain address ${claimed}, but the NodeRegistry binds it to ${registered}`,
      options,
    )
    this.peerId = peerId
    this.claimed = claimed
    this.registered = registered
  }
}

/** `startLocalChain` needs the optional peer dependency `hardhat`. */
export class HardhatMissingError extends VainChainError {
  static override name = 'HardhatMissingError'
  override name = 'HardhatMissingError'
}

// ------------------------------------------------------------------------------------------------

const vain = (wei: bigint) => `${formatEther(wei)} VAIN`

type Decoded = { errorName: string; args: readonly unknown[] }

/** Plain-language messages for the custom errors that have no class of their own. */
const MESSAGES: Record<string, (a: readonly any[]) => string> = {
  ZeroAmount: () => 'the amount must be greater than zero',
  ZeroAddress: () => 'an address of zero was given',
  InvalidTier: (a) => `tier ${a[0]} does not exist (tiers are 1, 2 and 3)`,
  ThresholdsNotAscending: () => 'tier thresholds must not decrease from tier 1 to tier 3',
  NothingToWithdraw: () => 'nothing is pending withdrawal: request an unstake first',
  CooldownTooLong: (a) => `a cooldown of ${a[0]} s exceeds the maximum of ${a[1]} s`,
  InvalidDecay: (a) => `invalid decay: period ${a[0]} s, ${a[1]} bps (period must be > 0, bps <= 10000)`,
  AlreadyRegistered: (a) => `node ${a[0]} is already registered`,
  NotRegistered: (a) => `node ${a[0]} is not registered`,
  PeerIdTaken: (a) => `peer id ${a[0]} is already bound to ${a[1]}`,
  InvalidPeerId: (a) => `invalid peer id ${JSON.stringify(a[0])} (1 to 128 characters)`,
  PeerKeyMismatch: (a) =>
    `the public key is not the secp256k1 key inside peer id ${a[0]} (only secp256k1 peer ids can be registered)`,
  InvalidPeerSignature: (a) =>
    `the signature is not peer ${a[0]}'s key binding it to this address on this chain and registry`,
  InvalidCommittee: () => 'the committee is empty, too large, or lists a member twice',
  InvalidQuorum: (a) => `quorum ${a[0]} is not a majority of a committee of ${a[1]}`,
  InvalidDeadline: (a) => `deadline ${a[0]} is not in the future`,
  WrongRoundStatus: (a) => `round ${a[0]} is ${['unknown', 'open', 'settled', 'cancelled'][Number(a[1])] ?? a[1]}`,
  RoundExpired: (a) => `round ${a[0]} passed its deadline (${a[1]})`,
  RoundNotExpired: (a) => `round ${a[0]} is open until ${a[1]}`,
  RoundMismatch: (a) => `result is for round ${a[1]}, not ${a[0]}`,
  RewardExceedsPool: (a) => `rewards of ${vain(a[0])} exceed the round's ${vain(a[1])}`,
  SignersNotAscending: () => 'signatures must come from distinct signers in ascending address order',
  NotCommitteeMember: (a) => `${a[1]} is not on the committee of round ${a[0]}`,
  QuorumNotReached: (a) => `${a[0]} committee signature(s), quorum is ${a[1]}`,
  AlreadyClaimed: (a) => `${a[1]} already claimed its reward for round ${a[0]}`,
  InvalidProof: () => 'the Merkle proof does not match the round’s rewards root',
  NotADissent: () => 'the signed result is the one the quorum settled: no disagreement to slash',
  AlreadySlashed: (a) => `${a[1]} was already slashed for round ${a[0]}`,
  RoundNotSettled: (a) =>
    `round ${a[0]} is ${['unknown', 'open', 'settled', 'cancelled'][Number(a[1])] ?? a[1]}, not settled`,
  LeafNotInRoot: (a) => `the reward leaf of ${a[1]} and its Merkle proof are not in round ${a[0]}'s rewards root`,
  ProofDigestMismatch: (a) =>
    `the leaf commits to ${a[0]}, but the payload hash and chunk leaves given digest to ${a[1]}: not the proofs the committee settled`,
  ChunkIndexOutOfRange: (a) => `chunk ${a[0]} does not exist: the update has ${a[1]} chunk proof(s)`,
  ChunkLeafMismatch: (a) => `chunk ${a[0]}'s leaf is ${a[1]}, but the proof given hashes to ${a[2]}`,
  AlreadyUpheld: (a) => `a challenge of ${a[1]}'s proofs in round ${a[0]} was upheld already`,
  ProofIsValid: () => 'the challenged update proof verifies: nothing to slash',
  CommitteeNotAscending: () =>
    'the committee members to slash must be listed in ascending address order, without repeats',
  CommitteeBelowQuorum: (a) =>
    `${a[0]} committee member(s) listed, the round's quorum is ${a[1]}: list at least the members who signed the settled result`,
  InsufficientGasForVerification: (a) =>
    `${a[0]} gas left to run the proof verifier, needs ${a[1]}: send the challenge with more gas`,
  OnlyGovernance: () => 'only a passed governance proposal may do this',
  OnlyProposer: (a) => `only the proposer ${a[0]} may cancel`,
  InvalidProposal: () => 'a proposal needs 1 to 16 actions with one calldata per target',
  WrongProposalState: (a) =>
    `proposal ${a[0]} is ${['unknown', 'active', 'defeated', 'succeeded', 'queued', 'executed', 'canceled', 'expired'][Number(a[1])] ?? a[1]}`,
  AlreadyVoted: (a) => `${a[1]} already voted on proposal ${a[0]}`,
  NoVotingPower: (a) => `${a[0]} had no stake in any tier at the proposal's snapshot and has no vote on it`,
  CooldownNotLongerThanVoting: (a) =>
    `the unstake cooldown (${a[0]} s) must be longer than the voting period (${a[1]} s), so that stake that voted stays locked until the vote closes`,
  FutureLookup: (a) => `no snapshot yet for ${a[0]}: it is not in the past (now ${a[1]})`,
  TimelockActive: (a) => `the timelock runs until ${new Date(Number(a[0]) * 1000).toISOString()}`,
  ActionFailed: (a) => `proposal action ${a[0]} reverted`,
  InvalidParams: () => 'voting period, timelock and quorum must be positive',
  AnonymousVotingOff: () => 'anonymous voting is off: no tier groups or vote verifier are set',
  NotConfigurator: () => 'only governance (or the deployer, once, before any proposal) may set anonymous voting',
  NullifierUsed: (a) => `this identity already voted on proposal ${a[0]} (nullifier ${a[1]})`,
  UnknownRoot: (a) => `tier ${a[1]}'s group was empty at proposal ${a[0]}'s snapshot: no anonymous vote from it`,
  InvalidVoteProof: () => 'the anonymous vote proof does not verify for this tier group, proposal, vote and nullifier',
  VotesAnonymously: (a) => `${a[0]} was in a tier group at the proposal's snapshot: it votes only anonymously`,
  NoTier: (a) => `${a[0]} has tier 0 and cannot join a tier group`,
  AlreadyMember: (a) => `${a[0]} is already in tier ${a[1]}'s group: leave it first`,
  NotMember: (a) => `${a[0]} is in no tier group`,
  StillInTier: (a) => `${a[0]} still has tier ${a[1]} or more: it cannot be evicted`,
  GroupFull: (a) => `tier ${a[0]}'s group is full (2^16 members)`,
  LeafAlreadyExists: () => 'this identity commitment is already in the group',
  LeafCannotBeZero: () => 'an identity commitment cannot be 0',
  LeafGreaterThanSnarkScalarField: () => 'the identity commitment is not below the field modulus',
  LeafDoesNotExist: () => 'the identity commitment is not in the group',
  WrongSiblingNodes: () => 'the Merkle siblings do not match the group: rebuild the tree from its events',
  ReentrancyGuardReentrantCall: () => 'reentrant call refused',
  ECDSAInvalidSignature: () => 'invalid signature',
  ECDSAInvalidSignatureLength: (a) => `invalid signature length ${a[0]}`,
  ERC20InsufficientAllowance: (a) => `allowance of ${vain(a[1])} for ${a[0]} is below ${vain(a[2])}: approve first`,
  ERC20InsufficientBalance: (a) => `${a[0]} holds ${vain(a[1])}, needs ${vain(a[2])}`,
}

const CLASSES: Record<
  string,
  new (
    msg: string,
    name: string,
    args: readonly unknown[],
    o: ChainErrorOptions,
  ) => ContractRevertError
> = {
  AlreadyVoted: AlreadyVotedError,
  NoVotingPower: NoVotingPowerError,
  CooldownNotLongerThanVoting: CooldownNotLongerThanVotingError,
  AlreadyClaimed: AlreadyClaimedError,
  InvalidProof: InvalidProofError,
  QuorumNotReached: QuorumNotReachedError,
  NotCommitteeMember: NotCommitteeMemberError,
  TimelockActive: TimelockActiveError,
  ProofIsValid: ProofIsValidError,
  AlreadyUpheld: ChallengeAlreadyUpheldError,
  LeafNotInRoot: LeafNotInRootError,
  ProofDigestMismatch: ProofDigestMismatchError,
  ChunkLeafMismatch: ChunkLeafMismatchError,
  ChunkIndexOutOfRange: ChunkIndexOutOfRangeError,
}

/** Builds the typed error for a decoded custom error. */
export function errorFromRevert(decoded: Decoded, options: ChainErrorOptions = {}): ContractRevertError {
  const { errorName, args } = decoded
  const a = args as readonly any[]
  switch (errorName) {
    case 'StakeTooLow':
      return new StakeTooLowError(a[0], a[1], a[2], options)
    case 'TierTooLow':
      return new TierTooLowError(a[0], Number(a[1]), Number(a[2]), options)
    case 'CooldownActive':
      return new CooldownActiveError(a[0], options)
    case 'InsufficientStake':
      return new InsufficientStakeError(a[0], a[1], options)
    case 'AccessControlUnauthorizedAccount':
      return new UnauthorizedError(a[0], a[1], options)
  }
  let message = MESSAGES[errorName]?.(a) ?? `reverted with ${errorName}(${a.map(String).join(', ')})`
  if (errorName === 'ActionFailed') {
    const inner = decodeRevertData(a[1] as Hex)
    if (inner !== undefined) message += `: ${inner.shortMessage}`
  }
  const Class = CLASSES[errorName] ?? ContractRevertError
  return new Class(message, errorName, args, options)
}

/**
 * Decodes raw revert data (`0x` + selector + arguments) against every vAIn contract's errors.
 * Returns `undefined` when the data is empty or unknown.
 */
export function decodeRevertData(data: Hex, options: ChainErrorOptions = {}): ContractRevertError | undefined {
  if (data === undefined || data.length < 10) return undefined
  try {
    const decoded = decodeErrorResult({ abi: allVainAbis as Abi, data })
    if (decoded.errorName === 'Error') {
      return new ContractRevertError(`reverted: ${String(decoded.args?.[0])}`, 'Error', decoded.args ?? [], options)
    }
    return errorFromRevert({ errorName: decoded.errorName, args: decoded.args ?? [] }, options)
  } catch {
    return undefined
  }
}

/**
 * Turns whatever a viem call threw into the most specific vAIn error: a decoded contract revert
 * ({@link StakeTooLowError}, {@link CooldownActiveError}, ... or {@link ContractRevertError}),
 * or {@link ChainUnavailableError} when the chain could not be reached. Anything else is returned
 * unchanged. The original error is kept as `cause`.
 *
 * @example
 * ```ts
 * try { await publicClient.simulateContract({ ... }) } catch (err) { throw decodeRevert(err) }
 * ```
 */
export function decodeRevert(err: unknown): unknown {
  if (err instanceof VainChainError) return err
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError)
    if (reverted instanceof ContractFunctionRevertedError) {
      if (reverted.data !== undefined) {
        return errorFromRevert({ errorName: reverted.data.errorName, args: reverted.data.args ?? [] }, { cause: err })
      }
      if (reverted.raw !== undefined) {
        const decoded = decodeRevertData(reverted.raw, { cause: err })
        if (decoded !== undefined) return decoded
      }
      return new ContractRevertError(`reverted: ${reverted.reason ?? reverted.shortMessage}`, undefined, [], {
        cause: err,
      })
    }
    // a raw revert carried in an RPC error's data (e.g. from eth_sendTransaction)
    const rpc = err.walk(
      (e) => e instanceof RpcRequestError || (typeof (e as any)?.data === 'string' && (e as any).data.startsWith('0x')),
    )
    const data = (rpc as any)?.data
    const hex = typeof data === 'string' ? data : typeof data?.data === 'string' ? data.data : undefined
    if (hex !== undefined) {
      const decoded = decodeRevertData(hex as Hex, { cause: err })
      if (decoded !== undefined) return decoded
    }
  }
  let inner: any = err
  for (let depth = 0; inner != null && depth < 10; depth++, inner = inner.cause) {
    if (inner instanceof ChainUnavailableError) return inner
  }
  if (isUnavailable(err)) {
    return new ChainUnavailableError(`chain unreachable: ${shortMessageOf(err)}`, 1, { cause: err })
  }
  return err
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
])

/** Whether `err` means the chain could not be reached (as opposed to the chain answering "no"). */
export function isUnavailable(err: unknown): boolean {
  let e: any = err
  for (let depth = 0; e != null && depth < 8; depth++) {
    if (e instanceof ChainUnavailableError || e instanceof HttpRequestError || e instanceof TimeoutError) return true
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true
    e = e.cause
  }
  return false
}

function shortMessageOf(err: unknown): string {
  if (err instanceof BaseError) return err.shortMessage
  return err instanceof Error ? err.message : String(err)
}
