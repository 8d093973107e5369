import { encodeFunctionData, keccak256, parseEther, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, describe, expect, it } from 'vitest'
import { ContractRevertError, reputationAbi } from '../src/index.js'
import { InvalidProofError, MalformedProofError } from '../src/zk/errors.js'
import { terminateZkThreads } from '../src/zk/threads.js'
import {
  deriveVoteIdentity,
  NotGroupMemberError,
  NullifierUsedError,
  proveVote,
  tierGroupTree,
  VoteSignalMismatchError,
  verifyVote,
  voteIdentityFromSecret,
} from '../src/zk/vote.js'
import { castAnonymousVote, deployAnonymousVoting, joinTierGroup, proveAnonymousVote } from '../src/zk/vote-chain.js'
import { freshSuite, sharedChain } from './helpers.js'

afterAll(() => terminateZkThreads())

const id = (label: string) => voteIdentityFromSecret(keccak256(toHex(`zk-vote test ${label}`)))

describe('anonymous votes off chain', () => {
  const alice = id('alice')
  const bob = id('bob')
  const carol = id('carol')
  const group = tierGroupTree([alice.commitment, bob.commitment])
  const scope = 123456789n

  it('derives the same identity from the same node key and context, another for another deployment', async () => {
    const account = privateKeyToAccount(keccak256(toHex('node key')))
    const ctx = { chainId: 31337, tierGroups: '0x00000000000000000000000000000000000000aa' }
    const a = await deriveVoteIdentity(account, ctx)
    const b = await deriveVoteIdentity(account, ctx)
    const c = await deriveVoteIdentity(account, { ...ctx, chainId: 1 })
    expect(a.commitment).toBe(b.commitment)
    expect(c.commitment).not.toBe(a.commitment)
  })

  it('a member proves a vote that verifies; tampered signals and malformed proofs give typed errors', async () => {
    const vote = await proveVote({ identity: alice, group, scope, support: 1 })
    await expect(
      verifyVote(vote.proof, vote.publicSignals, { merkleRoot: group.root, scope, support: 1 }),
    ).resolves.toMatchObject({ nullifier: vote.nullifier, message: 1n })
    // the same identity in the same scope: the same nullifier (one vote per proposal)
    const again = await proveVote({ identity: alice, group, scope, support: 0 })
    expect(again.nullifier).toBe(vote.nullifier)
    // expected signals differ
    await expect(verifyVote(vote.proof, vote.publicSignals, { support: 0 })).rejects.toBeInstanceOf(
      VoteSignalMismatchError,
    )
    await expect(verifyVote(vote.proof, vote.publicSignals, { scope: scope + 1n })).rejects.toMatchObject({
      name: 'VoteSignalMismatchError',
      signal: 'scope',
    })
    // tampered public signals, nothing expected: the proof does not verify
    const tampered = [...vote.publicSignals]
    tampered[2] = '0'
    await expect(verifyVote(vote.proof, tampered)).rejects.toBeInstanceOf(InvalidProofError)
    const otherRoot = [...vote.publicSignals]
    otherRoot[0] = tierGroupTree([carol.commitment]).root.toString()
    await expect(verifyVote(vote.proof, otherRoot)).rejects.toBeInstanceOf(InvalidProofError)
    // malformed
    await expect(verifyVote({ pi_a: [] }, vote.publicSignals)).rejects.toBeInstanceOf(MalformedProofError)
    await expect(verifyVote(vote.proof, ['1', '2'])).rejects.toBeInstanceOf(MalformedProofError)
    await expect(verifyVote(vote.proof, [...vote.publicSignals.slice(0, 3), '-1'])).rejects.toBeInstanceOf(
      MalformedProofError,
    )
    const broken = structuredClone(vote.proof)
    broken.pi_a[0] = '1'
    await expect(verifyVote(broken, vote.publicSignals)).rejects.toSatisfy(
      (e: Error) => e instanceof InvalidProofError || e instanceof MalformedProofError,
    )
  })

  it('a non-member cannot prove membership', async () => {
    await expect(proveVote({ identity: carol, group, scope, support: 1 })).rejects.toBeInstanceOf(NotGroupMemberError)
  })
})

describe('anonymous votes on chain', () => {
  const shared = sharedChain()

  it("with admin: 'governance' the deployer cannot turn anonymous voting on (its one-time power is spent)", async () => {
    const { deployment } = await freshSuite(shared, { nodes: [], params: { admin: 'governance' } })
    const { governance, reputation } = deployment.addresses
    await expect(
      deployAnonymousVoting(shared.walletClient(0), { governance, reputation }, { publicClient: shared.publicClient }),
    ).rejects.toMatchObject({ errorName: 'NotConfigurator' })
  })

  it('a member votes once with its tier weight; replay, lower tier and malformed proofs are refused', async () => {
    const { deployment, admin, nodes } = await freshSuite(shared, {
      nodes: [1, 2, 3],
      params: {
        reputation: { minReputation: [0n, 0n, 0n] },
        governance: { quorumVotes: parseEther('30000'), votingPeriodSeconds: 600n, timelockSeconds: 300n },
      },
    })
    const { governance, reputation } = deployment.addresses
    const publicClient = shared.publicClient
    const { tierGroups } = await deployAnonymousVoting(
      shared.walletClient(0),
      { governance, reputation },
      { publicClient },
    )
    const [t3, t1, proposer] = nodes as [typeof admin, typeof admin, typeof admin]
    await t3.staking.stake(parseEther('10000'))
    await t1.staking.stake(parseEther('100'))
    await proposer.staking.stake(parseEther('1000'))
    const ctx = { chainId: shared.chain.id, tierGroups }
    const t3Identity = await deriveVoteIdentity(privateKeyToAccount(shared.keys[1]!), ctx)
    const t1Identity = await deriveVoteIdentity(privateKeyToAccount(shared.keys[2]!), ctx)
    expect(await joinTierGroup(shared.walletClient(1), { tierGroups, identity: t3Identity }, { publicClient })).toBe(3)
    expect(await joinTierGroup(shared.walletClient(2), { tierGroups, identity: t1Identity }, { publicClient })).toBe(1)
    await shared.increaseTime(2n)
    const data = encodeFunctionData({ abi: reputationAbi, functionName: 'setMinReputation', args: [[0n, 10n, 20n]] })
    const { proposalId } = await proposer.governance.propose(
      [{ target: deployment.addresses.reputation, data }],
      'raise thresholds',
    )

    const vote = await proveAnonymousVote(publicClient, {
      governance,
      tierGroups,
      proposalId,
      tier: 3,
      identity: t3Identity,
      support: 1,
    })
    // any account may send it: here the admin relays it
    const relayer = shared.walletClient(0)
    expect(await castAnonymousVote(relayer, { governance, proposalId, tier: 3, vote }, { publicClient })).toBe(
      parseEther('30000'),
    )
    expect((await admin.governance.proposalOf(proposalId)).forVotes).toBe(parseEther('30000'))
    // replay: refused off chain before proving again, and on chain
    await expect(
      proveAnonymousVote(publicClient, {
        governance,
        tierGroups,
        proposalId,
        tier: 3,
        identity: t3Identity,
        support: 1,
      }),
    ).rejects.toBeInstanceOf(NullifierUsedError)
    await expect(
      castAnonymousVote(relayer, { governance, proposalId, tier: 3, vote }, { publicClient }),
    ).rejects.toMatchObject({ errorName: 'NullifierUsed' })
    // a tier-1 member is not in tier 3's group: no proof off chain; its tier-1 proof fails for tier 3 on chain
    await expect(
      proveAnonymousVote(publicClient, {
        governance,
        tierGroups,
        proposalId,
        tier: 3,
        identity: t1Identity,
        support: 0,
      }),
    ).rejects.toBeInstanceOf(NotGroupMemberError)
    const low = await proveAnonymousVote(publicClient, {
      governance,
      tierGroups,
      proposalId,
      tier: 1,
      identity: t1Identity,
      support: 0,
    })
    const err = await castAnonymousVote(
      relayer,
      { governance, proposalId, tier: 3, vote: low },
      { publicClient },
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContractRevertError)
    expect(err).toMatchObject({ errorName: 'InvalidVoteProof' })
    // a malformed proof reverts
    const garbage = {
      ...low,
      calldata: low.calldata.map((x, i) => (i === 0 ? x + 1n : x)) as unknown as typeof low.calldata,
    }
    await expect(
      castAnonymousVote(relayer, { governance, proposalId, tier: 1, vote: garbage }, { publicClient }),
    ).rejects.toMatchObject({ errorName: 'InvalidVoteProof' })
    // the honest tier-1 vote counts with tier 1's weight
    expect(await castAnonymousVote(relayer, { governance, proposalId, tier: 1, vote: low }, { publicClient })).toBe(
      parseEther('100'),
    )
    // members vote only anonymously
    await expect(t3.governance.vote(proposalId, 'for')).rejects.toMatchObject({ errorName: 'VotesAnonymously' })
  })
})
