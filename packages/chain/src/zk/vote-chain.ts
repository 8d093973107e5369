/**
 * Anonymous votes on chain: deploying TierGroups and VoteVerifier, joining a tier group, rebuilding
 * a group's tree from its events, proving a vote against the proposal's snapshot root and casting it.
 * @module
 */
import type { Identity } from '@semaphore-protocol/identity'
import type { LeanIMT } from '@zk-kit/lean-imt'
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem'
import { z } from 'zod'
import { governanceAbi } from '../abi/governance.js'
import { poseidonT3Abi, poseidonT3Bytecode } from '../abi/poseidonT3.js'
import { tierGroupsAbi, tierGroupsBytecode } from '../abi/tierGroups.js'
import { voteVerifierAbi, voteVerifierBytecode } from '../abi/voteVerifier.js'
import { decodeRevert, InvalidInputError, TransactionRevertedError } from '../errors.js'
import type { CircuitArtifacts } from './artifacts.js'
import { NullifierUsedError, proveVote, tierGroupTree, type VoteProof, type VoteSupport } from './vote.js'

type Wallet = WalletClient<Transport, Chain | undefined, Account>

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address') as unknown as z.ZodType<Address>
const tierSchema = z.union([z.literal(1), z.literal(2), z.literal(3)])
const supportSchema = z.union([z.literal(0), z.literal(1), z.literal(2)])

async function mined(reader: PublicClient, hash: Hex) {
  const receipt = await reader.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
  return receipt
}

/** Addresses of the anonymous-voting contracts. */
export interface AnonymousVotingDeployment {
  tierGroups: Address
  voteVerifier: Address
  poseidonT3: Address
}

/**
 * Deploys PoseidonT3, TierGroups (linked to it) and VoteVerifier, and turns anonymous voting on in
 * Governance. `client` must be Governance's deployer, before any proposal (later only a passed
 * proposal may call `setAnonymousVoting`).
 *
 * @example
 * ```ts
 * const { tierGroups } = await deployAnonymousVoting(wallet, { governance, reputation }, { publicClient })
 * ```
 */
export async function deployAnonymousVoting(
  client: Wallet,
  params: { governance: Address; reputation: Address },
  options: { publicClient: PublicClient },
): Promise<AnonymousVotingDeployment> {
  const p = z.object({ governance: address, reputation: address }).parse(params)
  const reader = options.publicClient
  const deploy = async (abi: readonly unknown[], bytecode: Hex, args: readonly unknown[]): Promise<Address> => {
    try {
      const hash = await client.deployContract({
        abi,
        bytecode,
        args,
        account: client.account,
        chain: client.chain,
      } as any)
      return (await mined(reader, hash)).contractAddress as Address
    } catch (err) {
      throw decodeRevert(err)
    }
  }
  const poseidonT3 = await deploy(poseidonT3Abi, poseidonT3Bytecode, [])
  // the one linked library's placeholder (`__$<hash>$__`) becomes its address
  const linked = tierGroupsBytecode.replace(/__\$[0-9a-fA-F]{34}\$__/g, poseidonT3.slice(2).toLowerCase()) as Hex
  const tierGroups = await deploy(tierGroupsAbi, linked, [p.reputation])
  const voteVerifier = await deploy(voteVerifierAbi, voteVerifierBytecode, [])
  try {
    const hash = await client.writeContract({
      address: p.governance,
      abi: governanceAbi,
      functionName: 'setAnonymousVoting',
      args: [tierGroups, voteVerifier],
      account: client.account,
      chain: client.chain,
    } as any)
    await mined(reader, hash)
  } catch (err) {
    throw decodeRevert(err)
  }
  return { tierGroups, voteVerifier, poseidonT3 }
}

/**
 * Adds `identity`'s commitment to the group of the caller's current tier; returns that tier.
 *
 * @throws decoded reverts: `NoTier`, `AlreadyMember`, `LeafAlreadyExists`...
 * @example
 * ```ts
 * const identity = await deriveVoteIdentity(wallet.account, { chainId, tierGroups })
 * const tier = await joinTierGroup(wallet, { tierGroups, identity }, { publicClient })
 * ```
 */
export async function joinTierGroup(
  client: Wallet,
  params: { tierGroups: Address; identity: Identity },
  options: { publicClient: PublicClient },
): Promise<1 | 2 | 3> {
  const tierGroups = address.parse(params.tierGroups)
  try {
    const { request, result } = await options.publicClient.simulateContract({
      address: tierGroups,
      abi: tierGroupsAbi,
      functionName: 'join',
      args: [params.identity.commitment],
      account: client.account,
    })
    await mined(options.publicClient, await client.writeContract(request as any))
    return tierSchema.parse(Number(result))
  } catch (err) {
    throw decodeRevert(err)
  }
}

/**
 * Rebuilds tier `tier`'s group from TierGroups' `MemberAdded` / `MemberRemoved` events, up to the
 * event that produced `root` when given (the root at a proposal's snapshot), else all of them.
 *
 * @throws InvalidInputError when `root` is given and no event produced it.
 */
export async function readTierGroup(
  publicClient: PublicClient,
  params: { tierGroups: Address; tier: 1 | 2 | 3; root?: bigint; fromBlock?: bigint },
): Promise<LeanIMT<bigint>> {
  const tierGroups = address.parse(params.tierGroups)
  const tier = tierSchema.parse(params.tier)
  const fromBlock = params.fromBlock ?? 0n
  const [added, removed] = await Promise.all([
    publicClient.getContractEvents({
      address: tierGroups,
      abi: tierGroupsAbi,
      eventName: 'MemberAdded',
      args: { tier },
      fromBlock,
    }),
    publicClient.getContractEvents({
      address: tierGroups,
      abi: tierGroupsAbi,
      eventName: 'MemberRemoved',
      args: { tier },
      fromBlock,
    }),
  ])
  const events = [...added, ...removed].sort((a, b) =>
    a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
  )
  const tree = tierGroupTree()
  if (params.root === 0n) return tree
  for (const e of events) {
    const args = e.args as { commitment: bigint; index: bigint; root: bigint }
    if (e.eventName === 'MemberAdded') tree.insert(args.commitment)
    else tree.update(Number(args.index), 0n)
    if (params.root !== undefined && args.root === params.root) return tree
  }
  if (params.root !== undefined) {
    throw new InvalidInputError(`no event of tier ${tier}'s group produced root ${params.root}`)
  }
  return tree
}

/** Inputs of {@link proveAnonymousVote}. */
export interface ProveAnonymousVoteParams {
  governance: Address
  tierGroups: Address
  proposalId: bigint
  tier: 1 | 2 | 3
  identity: Identity
  support: VoteSupport
  artifacts?: CircuitArtifacts
}

/**
 * Proves an anonymous vote on `proposalId` as a member of tier `tier`'s group at the proposal's
 * snapshot: reads the snapshot root and the scope from the chain, rebuilds the group from events and
 * proves. Checks that the nullifier has not voted yet.
 *
 * @throws NotGroupMemberError when the identity was not in that group at the snapshot;
 * NullifierUsedError when this identity already voted on the proposal.
 */
export async function proveAnonymousVote(
  publicClient: PublicClient,
  params: ProveAnonymousVoteParams,
): Promise<VoteProof> {
  const governance = address.parse(params.governance)
  const tier = tierSchema.parse(params.tier)
  const support = supportSchema.parse(params.support)
  const proposal = (await publicClient.readContract({
    address: governance,
    abi: governanceAbi,
    functionName: 'proposalOf',
    args: [params.proposalId],
  })) as { snapshot: bigint }
  const [root, scope] = await Promise.all([
    publicClient.readContract({
      address: address.parse(params.tierGroups),
      abi: tierGroupsAbi,
      functionName: 'rootAt',
      args: [tier, Number(proposal.snapshot)],
    }),
    publicClient.readContract({
      address: governance,
      abi: governanceAbi,
      functionName: 'voteScope',
      args: [params.proposalId],
    }),
  ])
  const group = await readTierGroup(publicClient, { tierGroups: params.tierGroups, tier, root })
  const vote = await proveVote({
    identity: params.identity,
    group,
    scope,
    support,
    ...(params.artifacts === undefined ? {} : { artifacts: params.artifacts }),
  })
  const used = await publicClient.readContract({
    address: governance,
    abi: governanceAbi,
    functionName: 'nullifierUsed',
    args: [params.proposalId, vote.nullifier],
  })
  if (used) throw new NullifierUsedError(`this identity already voted on proposal ${params.proposalId}`)
  return vote
}

/**
 * Casts a proven anonymous vote (from any account: a relayer keeps the voter's address out of it).
 * Returns the vote's weight.
 *
 * @throws decoded reverts: `NullifierUsed`, `UnknownRoot`, `InvalidVoteProof`, `WrongProposalState`...
 * @example
 * ```ts
 * const vote = await proveAnonymousVote(publicClient, { governance, tierGroups, proposalId, tier: 3, identity, support: 1 })
 * const weight = await castAnonymousVote(relayer, { governance, proposalId, tier: 3, vote }, { publicClient })
 * ```
 */
export async function castAnonymousVote(
  client: Wallet,
  params: { governance: Address; proposalId: bigint; tier: 1 | 2 | 3; vote: VoteProof },
  options: { publicClient: PublicClient },
): Promise<bigint> {
  const tier = tierSchema.parse(params.tier)
  const support = supportSchema.parse(Number(params.vote.message))
  try {
    const { request, result } = await options.publicClient.simulateContract({
      address: address.parse(params.governance),
      abi: governanceAbi,
      functionName: 'castAnonymousVote',
      args: [params.proposalId, tier, support, params.vote.nullifier, params.vote.calldata],
      account: client.account,
    })
    await mined(options.publicClient, await client.writeContract(request as any))
    return result
  } catch (err) {
    throw decodeRevert(err)
  }
}
