/**
 * Anonymous tier-weighted governance votes for the CLI and the demo (the Semaphore design, see
 * `@vain/chain/zk`): a node derives its vote identity from its key, joins its tier's group in
 * TierGroups, and later proves — without saying which member it is — that it was in a tier's group
 * at a proposal's snapshot. A relayer (any account: another of yours, or in production any third
 * party) sends the vote, so the voter's address is not the transaction's sender; the proof binds
 * the proposal, the vote and the nullifier, so the relayer can neither change the vote nor replay it.
 *
 * `@vain/chain/zk` (snarkjs, circomlibjs, the circuit's artefacts) is loaded only when a command
 * here needs it.
 * @module
 */
import {
  decodeRevert,
  formatVain,
  governanceAbi,
  PROPOSAL_STATES,
  TransactionRevertedError,
  tierGroupsAbi,
  type VainClient,
} from '@vain/chain'
import type { Address, Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

/** An anonymous vote was refused before anything was sent: bad input, not a chain failure. */
export class AnonymousVoteRefusedError extends Error {
  static override name = 'AnonymousVoteRefusedError'
  override name = 'AnonymousVoteRefusedError'
}

/** Governance has no tier groups or verifier (anonymous voting off, or a suite deployed without them). */
export class AnonymousVotingOffError extends AnonymousVoteRefusedError {
  static override name = 'AnonymousVotingOffError'
  override name = 'AnonymousVotingOffError'
}

/** No proposal has this id. */
export class UnknownProposalError extends AnonymousVoteRefusedError {
  static override name = 'UnknownProposalError'
  override name = 'UnknownProposalError'
}

/** The proposal is no longer (or not) open for votes. */
export class ProposalNotActiveError extends AnonymousVoteRefusedError {
  static override name = 'ProposalNotActiveError'
  override name = 'ProposalNotActiveError'
}

/** The node's vote identity was in no tier group at the proposal's snapshot. */
export class NotInTierGroupError extends AnonymousVoteRefusedError {
  static override name = 'NotInTierGroupError'
  override name = 'NotInTierGroupError'
}

/** This node's nullifier already voted on the proposal: one anonymous vote per node per proposal. */
export class NullifierAlreadyUsedError extends AnonymousVoteRefusedError {
  static override name = 'NullifierAlreadyUsedError'
  override name = 'NullifierAlreadyUsedError'
}

/** The node has tier 0 (or another problem joining a group). */
export class CannotJoinGroupError extends AnonymousVoteRefusedError {
  static override name = 'CannotJoinGroupError'
  override name = 'CannotJoinGroupError'
}

/** Gas added to a join's estimate: the group's tree may grow by a few levels before it is mined. */
const JOIN_GAS_HEADROOM = 400_000n

const SUPPORT = { against: 0, for: 1, abstain: 2 } as const
/** A vote, as the CLI spells it. */
export type SupportName = keyof typeof SUPPORT

/** The anonymous-voting contracts Governance uses. */
export async function anonymousVotingOf(vain: VainClient): Promise<{ tierGroups: Address; voteVerifier: Address }> {
  const g = vain.contracts.governance
  const [tierGroups, voteVerifier] = await Promise.all([g.read.tierGroups(), g.read.voteVerifier()])
  if (/^0x0{40}$/.test(tierGroups) || /^0x0{40}$/.test(voteVerifier)) {
    throw new AnonymousVotingOffError(
      `anonymous voting is off on this chain: Governance ${vain.contracts.governance.address} has no tier groups (deploy with vain chain up / vain chain deploy, which add them)`,
    )
  }
  return { tierGroups, voteVerifier }
}

/** The vote identity of the node whose key is `privateKey`, on this chain's TierGroups (deterministic). */
export async function voteIdentityOf(vain: VainClient, privateKey: Hex, tierGroups: Address) {
  const { deriveVoteIdentity } = await import('@vain/chain/zk')
  const chainId = await vain.publicClient.getChainId()
  return deriveVoteIdentity(privateKeyToAccount(privateKey), { chainId, tierGroups })
}

/** What {@link joinVoteGroup} did. */
export interface JoinResult {
  address: Address
  tier: 1 | 2 | 3
  /** The identity commitment now in the group (public; says nothing about the node's key). */
  commitment: bigint
  /** False when the node was a member already (nothing sent). */
  joined: boolean
  tx?: Hex
  gasUsed?: bigint
}

/**
 * Adds the vote identity of `vain`'s account (derived from its key) to the group of its current
 * tier. Idempotent: a node already in a group with this identity is reported, not re-added.
 *
 * @throws CannotJoinGroupError for tier 0 or a membership under another identity;
 * AnonymousVotingOffError.
 */
export async function joinVoteGroup(vain: VainClient, privateKey: Hex): Promise<JoinResult> {
  const address = vain.account
  if (address === undefined || vain.walletClient === undefined) throw new CannotJoinGroupError('joining needs a key')
  const { tierGroups } = await anonymousVotingOf(vain)
  const identity = await voteIdentityOf(vain, privateKey, tierGroups)
  const [memberTier, commitment] = (await vain.publicClient.readContract({
    address: tierGroups,
    abi: tierGroupsAbi,
    functionName: 'membershipOf',
    args: [address],
  })) as readonly [number, bigint]
  if (memberTier !== 0) {
    if (commitment !== identity.commitment) {
      throw new CannotJoinGroupError(
        `${address} is in tier ${memberTier}'s group under another identity commitment (${commitment}): leave it first`,
      )
    }
    return { address, tier: memberTier as 1 | 2 | 3, commitment, joined: false }
  }
  const { tier } = await vain.standing(address)
  if (tier === 0) {
    throw new CannotJoinGroupError(`${address} has tier 0: stake at least the tier-1 minimum first (vain stake AMOUNT)`)
  }
  let hash: Hex
  let joined: number
  try {
    const { request, result } = await vain.publicClient.simulateContract({
      address: tierGroups,
      abi: tierGroupsAbi,
      functionName: 'join',
      args: [identity.commitment],
      account: vain.walletClient.account,
    })
    joined = result
    // joins land concurrently: the tree may be deeper by the time this one is mined (a Poseidon hash
    // per level, up to 16), so the estimate made against the current tree gets headroom
    const gas = await vain.publicClient.estimateContractGas(request as never)
    hash = await vain.walletClient.writeContract({ ...(request as object), gas: gas + JOIN_GAS_HEADROOM } as never)
  } catch (err) {
    throw decodeRevert(err)
  }
  const receipt = await vain.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
  return {
    address,
    tier: joined as 1 | 2 | 3,
    commitment: identity.commitment,
    joined: true,
    tx: hash,
    gasUsed: receipt.gasUsed,
  }
}

/** What {@link castAnonymousVoteVia} did. */
export interface AnonymousVoteResult {
  proposalId: bigint
  support: SupportName
  /** The tier group the vote was proven in. */
  tier: 1 | 2 | 3
  /** `anonymousWeight(tier)` = tier × that tier's minimum stake (wei × tier). */
  weight: bigint
  nullifier: bigint
  /** The relayer that sent it (the transaction's sender). */
  relayer: Address
  tx: Hex
  gasUsed: bigint
  /** Proving time (ms), on this machine. */
  proveMs: number
  /** The relayer's off-chain check of the proof before it pays for the transaction (ms). */
  verifyMs: number
}

/**
 * Votes `support` on `proposalId` as an anonymous member of the tier group the voter's identity was
 * in at the proposal's snapshot: proves membership (Groth16), lets the relayer check the proof off
 * chain, and has `relayer` send `Governance.castAnonymousVote`. `voter` is only used to derive the
 * identity (it signs nothing on chain and sends nothing).
 *
 * @throws UnknownProposalError, ProposalNotActiveError, NotInTierGroupError, NullifierAlreadyUsedError,
 * AnonymousVotingOffError; decoded reverts if the chain refuses it anyway.
 */
export async function castAnonymousVoteVia(
  voter: { vain: VainClient; privateKey: Hex },
  relayer: VainClient,
  params: {
    proposalId: bigint
    support: SupportName
    /** The block TierGroups was deployed in (the chain file's `fromBlock`): events are read from it. */
    fromBlock?: number
  },
): Promise<AnonymousVoteResult> {
  const { vain } = voter
  const { proposalId, support } = params
  const fromBlock = BigInt(params.fromBlock ?? 0)
  if (relayer.walletClient === undefined) throw new AnonymousVoteRefusedError('the relayer needs a key')
  const relayerAddress = relayer.walletClient.account.address
  if (relayerAddress.toLowerCase() === voter.vain.account?.toLowerCase()) {
    throw new AnonymousVoteRefusedError(
      'the relayer is the voter itself: its address would send the vote; relay through another account',
    )
  }
  const { tierGroups } = await anonymousVotingOf(vain)
  const g = vain.contracts.governance
  const [count, state] = await Promise.all([g.read.proposalCount(), g.read.state([proposalId])])
  if (proposalId === 0n || proposalId > count) {
    throw new UnknownProposalError(
      `proposal ${proposalId} does not exist (${count === 0n ? 'no proposal yet' : `proposals are 1..${count}`})`,
    )
  }
  const zk = await import('@vain/chain/zk')
  const identity = await voteIdentityOf(vain, voter.privateKey, tierGroups)
  const proposal = await vain.governance.proposalOf(proposalId)
  const scope = await g.read.voteScope([proposalId])
  // the nullifier is Poseidon(scope, secret), as the circuit computes it: a second vote is refused
  // before a proof is made (and by the contract anyway)
  const nullifier = zk.hashPair(scope, identity.secretScalar)
  if (await g.read.nullifierUsed([proposalId, nullifier])) {
    throw new NullifierAlreadyUsedError(
      `this node already voted anonymously on proposal ${proposalId} (its nullifier ${shortNullifier(nullifier)} is used): one vote per node per proposal`,
    )
  }
  // which group held this identity at the snapshot: from public events only (no read names the voter)
  let found: { tier: 1 | 2 | 3; group: Awaited<ReturnType<typeof zk.readTierGroup>> } | undefined
  for (const tier of [3, 2, 1] as const) {
    const root = await vain.publicClient.readContract({
      address: tierGroups,
      abi: tierGroupsAbi,
      functionName: 'rootAt',
      args: [tier, Number(proposal.snapshot)],
    })
    if (root === 0n) continue
    const group = await zk.readTierGroup(vain.publicClient, { tierGroups, tier, root, fromBlock })
    if (group.indexOf(identity.commitment) >= 0) {
      found = { tier, group }
      break
    }
  }
  if (found === undefined) {
    let now: number | undefined
    for (const tier of [3, 2, 1] as const) {
      const group = await zk.readTierGroup(vain.publicClient, { tierGroups, tier, fromBlock })
      if (group.indexOf(identity.commitment) >= 0) now = tier
    }
    const when = new Date(Number(proposal.snapshot) * 1000).toISOString()
    throw new NotInTierGroupError(
      now === undefined
        ? `this node's vote identity is in no tier group: run vain vote join (then it may vote anonymously on proposals made after that)`
        : `this node joined tier ${now}'s group after proposal ${proposalId} was made (its snapshot ${when}): anonymous votes count the groups as they were then; vote on it publicly, or anonymously on later proposals`,
    )
  }
  const stateName = PROPOSAL_STATES[state] ?? String(state)
  if (stateName !== 'active') {
    throw new ProposalNotActiveError(`proposal ${proposalId} is ${stateName}: it takes no more votes`)
  }
  const t0 = performance.now()
  const vote = await zk.proveVote({ identity, group: found.group, scope, support: SUPPORT[support] })
  const proveMs = performance.now() - t0
  // the relayer checks what it is asked to pay for; the chain checks it again
  const t1 = performance.now()
  await zk.verifyVote(vote.proof, vote.publicSignals, {
    merkleRoot: found.group.root,
    scope,
    support: SUPPORT[support],
    nullifier,
  })
  const verifyMs = performance.now() - t1
  let hash: Hex
  let weight: bigint
  try {
    const { request, result } = await relayer.publicClient.simulateContract({
      address: g.address,
      abi: governanceAbi,
      functionName: 'castAnonymousVote',
      args: [proposalId, found.tier, SUPPORT[support], vote.nullifier, vote.calldata],
      account: relayer.walletClient.account,
    })
    weight = result
    hash = await relayer.walletClient.writeContract(request as never)
  } catch (err) {
    const e = decodeRevert(err) as Error & { errorName?: string }
    if (e.errorName === 'NullifierUsed') {
      throw new NullifierAlreadyUsedError(`this node already voted anonymously on proposal ${proposalId}`)
    }
    if (e.errorName === 'WrongProposalState') {
      throw new ProposalNotActiveError(`voting on proposal ${proposalId} ended while the vote was proved: ${e.message}`)
    }
    throw e
  }
  const receipt = await relayer.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
  return {
    proposalId,
    support,
    tier: found.tier,
    weight,
    nullifier,
    relayer: relayerAddress,
    tx: hash,
    gasUsed: receipt.gasUsed,
    proveMs,
    verifyMs,
  }
}

/** A nullifier shortened for display: its first and last hex digits. */
export function shortNullifier(n: bigint): string {
  const hex = n.toString(16).padStart(64, '0')
  return `0x${hex.slice(0, 6)}…${hex.slice(-4)}`
}

/** A vote weight (wei × tier) as VAIN × tier, e.g. '30000'. */
export const weightText = (weight: bigint): string => formatVain(weight).replace(' VAIN', '')
