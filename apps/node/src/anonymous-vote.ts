/**
 * The demo's anonymous governance vote (`vain demo --proofs`): after training, every node puts its
 * vote identity (derived from its key) in its tier's group, one node proposes a parameter change,
 * several vote on it anonymously — each proves membership of its tier group with a Groth16 proof
 * and a relayer sends the vote, so no voter's address is on the transaction — and the tally is read
 * back from the chain.
 * @module
 */
import { connectVain, formatVain, shortAddress, stakingAbi, type VainClient } from '@vain/chain'
import { encodeFunctionData, type Hex } from 'viem'
import {
  type AnonymousVoteResult,
  castAnonymousVoteVia,
  joinVoteGroup,
  type SupportName,
  shortNullifier,
} from './chain/anonymous.js'

/** What the demo's anonymous vote did (in the demo's JSON summary). */
export interface AnonymousVoteSummary {
  proposalId: string
  /** Anonymous votes counted per side, read back from the chain's AnonymousVoteCast events. */
  votes: { for: number; against: number; abstain: number }
  /** The proposal's tally (VAIN × tier). */
  weights: { for: string; against: string; abstain: string }
  relayer: string
  /** Mean proving time per vote (s) and mean off-chain check by the relayer (s), on this machine. */
  meanProveSeconds: number
  meanVerifySeconds: number
  /** Mean gas of Governance.castAnonymousVote (Groth16 check included). */
  meanGas: number
}

/** Inputs of {@link runAnonymousVote}. */
export interface AnonymousVoteInit {
  /** The relayer: sends every vote and pays for it (the demo's deployer). */
  relayer: VainClient
  rpcUrl: string
  /** The nodes' keys: all join; the first proposes; the first `votes.length` vote. */
  nodeKeys: readonly Hex[]
  /** One vote per voter (default: for, for, for, against — as many as there are nodes). */
  votes?: readonly SupportName[]
  out: (line: string) => void
}

const weight = (w: bigint) => formatVain(w).replace(' VAIN', '')

/**
 * Runs the vote and prints a line per step and the tally.
 *
 * @example
 * ```ts
 * const summary = await runAnonymousVote({ relayer: admin, rpcUrl, nodeKeys, out: console.log })
 * ```
 */
export async function runAnonymousVote(init: AnonymousVoteInit): Promise<AnonymousVoteSummary> {
  const { relayer, out } = init
  const addresses = relayer.addresses
  const nodes = init.nodeKeys.map((privateKey) => ({
    privateKey,
    vain: connectVain({ rpcUrl: init.rpcUrl, addresses, privateKey }),
  }))
  const votes = (init.votes ?? (['for', 'for', 'for', 'against'] as const)).slice(0, nodes.length)
  // 1. every node joins its tier's group (one sender each: in parallel)
  const joined = await Promise.all(nodes.map((n) => joinVoteGroup(n.vain, n.privateKey)))
  const tiers = [...new Set(joined.map((j) => j.tier))].sort().join(', ')
  out(
    `governance: ${joined.length} nodes put their vote identities (derived from their keys) in their tier groups on chain (tier ${tiers}) · mean gas ${Math.round(mean(joined.map((j) => Number(j.gasUsed ?? 0n))))}`,
  )
  // 2. the first node proposes a parameter change: a 10-minute unstake cooldown
  const proposer = nodes[0]!.vain
  const data = encodeFunctionData({ abi: stakingAbi, functionName: 'setCooldown', args: [600n] })
  const { proposalId } = await proposer.governance.propose(
    [{ target: addresses.staking, data }],
    'demo: set the unstake cooldown to 10 minutes',
  )
  out(`governance: proposal ${proposalId} by ${shortAddress(proposer.account!)}: set the unstake cooldown to 10 min`)
  // 3. votes, each proven and relayed (one relayer: one after another)
  const results: AnonymousVoteResult[] = []
  for (const [i, support] of votes.entries()) {
    const r = await castAnonymousVoteVia(nodes[i]!, relayer, { proposalId, support })
    results.push(r)
    out(
      `  anonymous vote ${support}: a member of tier ${r.tier}'s group (nullifier ${shortNullifier(r.nullifier)}) · proved in ${(r.proveMs / 1000).toFixed(2)} s · relayed by ${shortAddress(r.relayer)}, gas ${r.gasUsed}`,
    )
  }
  // 4. the tally, read back from the chain
  const [p, events] = await Promise.all([
    relayer.governance.proposalOf(proposalId),
    relayer.publicClient.getContractEvents({
      address: addresses.governance,
      abi: relayer.contracts.governance.abi,
      eventName: 'AnonymousVoteCast',
      args: { proposalId },
      fromBlock: 0n,
    }),
  ])
  const count = { for: 0, against: 0, abstain: 0 }
  for (const e of events) {
    const s = (e.args as { support: number }).support
    if (s === 1) count.for++
    else if (s === 0) count.against++
    else count.abstain++
  }
  const summary: AnonymousVoteSummary = {
    proposalId: String(proposalId),
    votes: count,
    weights: { for: weight(p.forVotes), against: weight(p.againstVotes), abstain: weight(p.abstainVotes) },
    relayer: relayer.account!,
    meanProveSeconds: mean(results.map((r) => r.proveMs)) / 1000,
    meanVerifySeconds: mean(results.map((r) => r.verifyMs)) / 1000,
    meanGas: Math.round(mean(results.map((r) => Number(r.gasUsed)))),
  }
  out(
    `anonymous vote: proposal ${proposalId} — for ${count.for} (weight ${summary.weights.for}), against ${count.against} (weight ${summary.weights.against})${count.abstain > 0 ? `, abstain ${count.abstain} (weight ${summary.weights.abstain})` : ''}; voters hidden behind nullifiers · every vote sent by the relayer ${shortAddress(relayer.account!)} · ${summary.meanProveSeconds.toFixed(2)} s to prove, ${summary.meanGas} gas on chain per vote`,
  )
  return summary
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
}
