import {
  connectVain,
  type ProposalAction,
  reputationAbi,
  roundManagerAbi,
  stakingAbi,
  type VainClient,
} from '@vain/chain'
import { encodeFunctionData, getAddress, type Hex, isAddress, keccak256, parseEther, toBytes } from 'viem'
import { castAnonymousVoteVia, joinVoteGroup, shortNullifier, weightText } from '../chain/anonymous.js'
import { devAccountKey, type NodeChain, readKeyFile, resolvePrivateKey } from '../chain/connect.js'
import { UsageError } from '../commands/common.js'
import type { ChainConfig } from '../config.js'
import { intOf, needKey, type Report, type Values, when } from './shared.js'

export function actionsOf(chain: NodeChain, values: Values): ProposalAction[] {
  const a = chain.addresses
  const actions: ProposalAction[] = []
  const triple = (text: string, what: string, parse: (x: string) => bigint): [bigint, bigint, bigint] => {
    const parts = text.split(',').map((x) => x.trim())
    if (parts.length !== 3) throw new UsageError(`${what} needs three values A,B,C (tiers 1, 2, 3)`)
    return parts.map(parse) as [bigint, bigint, bigint]
  }
  const vainAmount = (x: string): bigint => {
    if (!/^\d+(\.\d{1,18})?$/.test(x)) throw new UsageError(`'${x}' is not an amount of VAIN`)
    return parseEther(x)
  }
  const uint = (x: string): bigint => {
    if (!/^\d{1,30}$/.test(x)) throw new UsageError(`'${x}' is not a whole number`)
    return BigInt(x)
  }
  if (values['set-min-stake'] !== undefined) {
    const args = [triple(values['set-min-stake'], '--set-min-stake', vainAmount)] as const
    actions.push({
      target: a.staking,
      data: encodeFunctionData({ abi: stakingAbi, functionName: 'setMinStake', args }),
    })
  }
  if (values['set-min-reputation'] !== undefined) {
    const args = [triple(values['set-min-reputation'], '--set-min-reputation', uint)] as const
    actions.push({
      target: a.reputation,
      data: encodeFunctionData({ abi: reputationAbi, functionName: 'setMinReputation', args }),
    })
  }
  if (values['set-cooldown'] !== undefined) {
    const args = [uint(values['set-cooldown'])] as const
    actions.push({
      target: a.staking,
      data: encodeFunctionData({ abi: stakingAbi, functionName: 'setCooldown', args }),
    })
  }
  if (values['set-committee-tier'] !== undefined) {
    const args = [intOf(values['set-committee-tier'], '--set-committee-tier', 1, 3)] as const
    actions.push({
      target: a.roundManager,
      data: encodeFunctionData({ abi: roundManagerAbi, functionName: 'setCommitteeTier', args }),
    })
  }
  if (values['set-dissent-penalty'] !== undefined) {
    const [amount, rep] = values['set-dissent-penalty'].split(',').map((x) => x.trim())
    if (amount === undefined || rep === undefined) throw new UsageError('--set-dissent-penalty needs VAIN,REPUTATION')
    const args = [vainAmount(amount), uint(rep)] as const
    actions.push({
      target: a.roundManager,
      data: encodeFunctionData({ abi: roundManagerAbi, functionName: 'setDissentPenalty', args }),
    })
  }
  for (const s of values.slash ?? []) {
    const [who, amount] = s.split(':')
    if (who === undefined || amount === undefined || !isAddress(who))
      throw new UsageError(`--slash needs ADDRESS:AMOUNT, got '${s}'`)
    const args = [getAddress(who), vainAmount(amount), keccak256(toBytes('governance'))] as const
    actions.push({ target: a.staking, data: encodeFunctionData({ abi: stakingAbi, functionName: 'slash', args }) })
  }
  for (const s of values.action ?? []) {
    const [target, data] = s.split(':')
    if (target === undefined || data === undefined || !isAddress(target) || !/^0x([0-9a-fA-F]{2})+$/.test(data)) {
      throw new UsageError(`--action needs TARGET:CALLDATA (an address and 0x hex), got '${s}'`)
    }
    actions.push({ target: getAddress(target), data: data as Hex })
  }
  return actions
}

export async function propose(chain: NodeChain, values: Values): Promise<Report> {
  const address = needKey(chain)
  const description = values.message
  if (description === undefined || description.trim() === '')
    throw new UsageError('propose needs a description: -m TEXT')
  const actions = actionsOf(chain, values)
  if (actions.length === 0)
    throw new UsageError('propose needs at least one action (e.g. --set-min-stake 100,1000,10000)')
  const tx = await chain.vain.governance.propose(actions, description)
  const p = await chain.vain.governance.proposalOf(tx.proposalId)
  return {
    lines: [
      `proposal ${tx.proposalId} created by ${address} with ${actions.length} action(s) (tx ${tx.hash})`,
      `voting open until ${when(p.voteEnd)}: vain vote ${tx.proposalId} for|against|abstain`,
      `votes weigh stake × tier as of ${when(p.snapshot)}: stake added or moved later does not vote on it`,
    ],
    json: {
      action: 'propose',
      proposalId: String(tx.proposalId),
      tx: tx.hash,
      voteEnd: when(p.voteEnd),
      snapshot: when(p.snapshot),
      actions,
    },
  }
}

export async function proposalReport(chain: NodeChain, id: bigint, extra: Record<string, unknown> = {}) {
  const g = chain.vain.governance
  const [p, state, quorum] = await Promise.all([
    g.proposalOf(id),
    g.state(id),
    chain.vain.contracts.governance.read.quorumVotes(),
  ])
  const line = `proposal ${id}: ${state} · for ${weightText(p.forVotes)} · against ${weightText(p.againstVotes)} · abstain ${weightText(p.abstainVotes)} (VAIN × tier; quorum ${weightText(quorum)}) · voting ${state === 'active' ? 'until' : 'ended'} ${when(p.voteEnd)}${p.eta > 0n ? ` · executable from ${when(p.eta)}` : ''}`
  return {
    line,
    json: {
      proposalId: String(id),
      state,
      proposer: p.proposer,
      forVotes: weightText(p.forVotes),
      againstVotes: weightText(p.againstVotes),
      abstainVotes: weightText(p.abstainVotes),
      quorum: weightText(quorum),
      snapshot: when(p.snapshot),
      voteEnd: when(p.voteEnd),
      eta: p.eta > 0n ? when(p.eta) : null,
      ...extra,
    },
  }
}

export function proposalId(text: string | undefined): bigint {
  if (text === undefined || !/^\d{1,30}$/.test(text))
    throw new UsageError(`a proposal ID (a number) is needed, got '${text ?? ''}'`)
  return BigInt(text)
}

/** `vain vote join`: this node's vote identity into its tier's group. */
export async function voteJoin(chain: NodeChain, config: ChainConfig, positionals: string[]): Promise<Report> {
  if (positionals.length > 1) throw new UsageError(`vote join takes no argument, got '${positionals[1]}'`)
  needKey(chain)
  const r = await joinVoteGroup(chain.vain, resolvePrivateKey(config) as Hex)
  const commitment = `0x${r.commitment.toString(16).padStart(64, '0')}`
  return {
    lines: r.joined
      ? [
          `${r.address} joined tier ${r.tier}'s anonymous-vote group with identity commitment ${commitment} (tx ${r.tx}, gas ${r.gasUsed})`,
          'it may vote anonymously on proposals made from now on: vain vote ID for|against|abstain --anonymous --relayer-account N',
        ]
      : [`${r.address} is already in tier ${r.tier}'s anonymous-vote group (identity commitment ${commitment})`],
    json: {
      action: 'vote-join',
      address: r.address,
      tier: r.tier,
      commitment,
      joined: r.joined,
      tx: r.tx ?? null,
      gasUsed: r.gasUsed === undefined ? null : String(r.gasUsed),
    },
  }
}

/** The relayer of an anonymous vote: `--relayer-account N` or `--relayer-key-file FILE`. */
export function relayerOf(chain: NodeChain, config: ChainConfig, values: Values): VainClient {
  const account = values['relayer-account']
  const file = values['relayer-key-file']
  if ((account === undefined) === (file === undefined)) {
    throw new UsageError(
      'vote --anonymous needs one relayer to send it: --relayer-account N or --relayer-key-file FILE (sending it yourself would show your address)',
    )
  }
  const key = account !== undefined ? devAccountKey(intOf(account, '--relayer-account', 0, 999)) : readKeyFile(file!)
  return connectVain({ rpcUrl: config.rpcUrl, addresses: chain.addresses, privateKey: key })
}

export async function anonymousVote(
  chain: NodeChain,
  config: ChainConfig,
  values: Values,
  id: bigint,
  support: 'for' | 'against' | 'abstain',
): Promise<Report> {
  needKey(chain)
  const relayer = relayerOf(chain, config, values)
  const v = await castAnonymousVoteVia({ vain: chain.vain, privateKey: resolvePrivateKey(config) as Hex }, relayer, {
    proposalId: id,
    support,
    fromBlock: config.fromBlock,
  })
  const r = await proposalReport(chain, id, {
    action: 'vote',
    anonymous: true,
    support,
    tier: v.tier,
    weight: weightText(v.weight),
    nullifier: `0x${v.nullifier.toString(16).padStart(64, '0')}`,
    relayer: v.relayer,
    tx: v.tx,
    gasUsed: String(v.gasUsed),
    proveMs: Math.round(v.proveMs),
    verifyMs: Math.round(v.verifyMs),
  })
  return {
    lines: [
      `voted ${support} on proposal ${id} anonymously, as one of tier ${v.tier}'s group, with weight ${weightText(v.weight)} (tier × the tier's minimum stake)`,
      `sent by relayer ${v.relayer} (tx ${v.tx}, gas ${v.gasUsed}) · nullifier ${shortNullifier(v.nullifier)} · proved in ${(v.proveMs / 1000).toFixed(2)} s, checked by the relayer in ${(v.verifyMs / 1000).toFixed(2)} s`,
      r.line,
    ],
    json: r.json,
  }
}

export async function vote(
  chain: NodeChain,
  config: ChainConfig,
  values: Values,
  positionals: string[],
): Promise<Report> {
  if (positionals[0] === 'join') return voteJoin(chain, config, positionals)
  needKey(chain)
  const id = proposalId(positionals[0])
  const support = positionals[1]
  if (support !== 'for' && support !== 'against' && support !== 'abstain') {
    throw new UsageError(`vote needs for, against or abstain after the proposal ID, got '${support ?? ''}'`)
  }
  if (positionals.length > 2) throw new UsageError(`vote takes ID and a vote, got also '${positionals[2]}'`)
  if (values.anonymous === true) return anonymousVote(chain, config, values, id, support)
  if (values['relayer-account'] !== undefined || values['relayer-key-file'] !== undefined) {
    throw new UsageError('--relayer-account / --relayer-key-file only go with --anonymous')
  }
  const tx = await chain.vain.governance.vote(id, support).catch((err: unknown) => {
    if ((err as { errorName?: string }).errorName === 'VotesAnonymously') {
      throw new UsageError(
        `${chain.address} was in a tier group when proposal ${id} was made: it votes on it only anonymously (vain vote ${id} ${support} --anonymous --relayer-account N)`,
      )
    }
    throw err
  })
  const cast = tx.events.find((e) => e.eventName === 'VoteCast') as { args: { weight: bigint } } | undefined
  const weight = cast?.args.weight ?? 0n
  const r = await proposalReport(chain, id, { action: 'vote', support, weight: weightText(weight), tx: tx.hash })
  return {
    lines: [
      `voted ${support} on proposal ${id} with weight ${weightText(weight)} (your stake × tier when it was proposed; tx ${tx.hash})`,
      r.line,
    ],
    json: r.json,
  }
}

export async function proposal(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
  const id = proposalId(positionals[0])
  const lines: string[] = []
  if (values.queue === true) {
    needKey(chain)
    const tx = await chain.vain.governance.queue(id)
    lines.push(`queued proposal ${id} (tx ${tx.hash})`)
  }
  if (values.execute === true) {
    needKey(chain)
    const tx = await chain.vain.governance.execute(id)
    lines.push(`executed proposal ${id} (tx ${tx.hash})`)
  }
  const r = await proposalReport(chain, id)
  return { lines: [...lines, r.line], json: r.json }
}
