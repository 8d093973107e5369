/**
 * The settlement rules (pure) and the settlement part on the run's local chain: committee
 * members, a job creator and trainers as `createSettlement` instances with their own keys, a
 * participant that emits the round's events, and an in-process gossip bus for votes. Every wait
 * is on an event (chain events, log lines), never on a deadline.
 */
import type { Contribution } from '@vain/fl'
import { majority } from '@vain/fl'
import { TypedEventEmitter } from 'main-event'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hexToBytes,
  keccak256,
  parseEther,
  sha256,
  toHex,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  roundManagerAbi,
  type SettlementResult,
  settlementResultTypedData,
  VAIN_ROLES,
  type VainClient,
} from '../src/index.js'
import {
  chainRoundSeconds,
  createSettlement,
  DEFAULT_MAX_UNFUNDED_ROUNDS,
  dissentEvidence,
  InvalidModelAddressError,
  InvalidSettleVoteError,
  JobCreatorRefusedError,
  modelHashOf,
  reputationPerContribution,
  rewardLeavesOf,
  rewardPerContribution,
  roundKey,
  SETTLE_STAGGER_MS,
  type Settlement,
  type SettlementEvents,
  type SettlementLogger,
  type SettlementParticipantEvents,
  type SettleVote,
  type SettleVoteGossip,
  settlePlan,
  settleQuorum,
  settleVoteOf,
  verifySettleVote,
} from '../src/settlement/index.js'
import { freshSuite, libp2pIdentity, sharedChain } from './helpers.js'

const shared = sharedChain()
const address = (n: number) => getAddress(`0x${n.toString(16).padStart(40, '0')}`)
const hash64 = (s: string) => sha256(toHex(s)).slice(2)
/** A CIDv1 (raw, sha2-256) of `bytes`' sha256, as @vain/memory addresses blobs. */
const cidOf = (s: string) => CID.createV1(0x55, createDigest(0x12, hexToBytes(sha256(toHex(s))))).toString()

describe('settlement rules', () => {
  it('roundKey is keccak256(abi.encode(jobId, round, attempt)), one per attempt', () => {
    const jobId = hash64('job')
    expect(roundKey(jobId, 2, 1)).toBe(
      keccak256(
        encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }, { type: 'uint256' }], [`0x${jobId}`, 2n, 1n]),
      ),
    )
    expect(roundKey(jobId, 2, 0)).not.toBe(roundKey(jobId, 2, 1))
  })

  it('modelHashOf: a 64-hex address is its hash, a CID gives its sha2-256 digest, anything else a typed error', () => {
    const hex = hash64('model')
    expect(modelHashOf(hex)).toBe(`0x${hex}`)
    const v1 = cidOf('model')
    expect(v1).toMatch(/^bafkrei/)
    expect(modelHashOf(v1)).toBe(`0x${hex}`)
    const v0 = CID.createV0(createDigest(0x12, hexToBytes(`0x${hex}`))).toString()
    expect(modelHashOf(v0)).toBe(`0x${hex}`)

    const refused = (addr: string): unknown => {
      try {
        modelHashOf(addr)
      } catch (err) {
        return err
      }
      return undefined
    }
    for (const bad of ['not-a-model', hex.toUpperCase(), hex.slice(2), '', `0x${hex}`]) {
      const err = refused(bad)
      expect(err, bad).toBeInstanceOf(InvalidModelAddressError)
      expect((err as Error).name).toBe('InvalidModelAddressError')
    }
    // a CID over another hash (identity, 32 bytes) names no sha2-256 digest
    const identity = CID.createV1(0x55, createDigest(0x00, new Uint8Array(32).fill(7))).toString()
    expect((refused(identity) as Error).name).toBe('InvalidModelAddressError')
    expect((refused(identity) as InvalidModelAddressError).modelAddress).toBe(identity)
  })

  it('the quorum of a committee is the round’s majority', () => {
    expect([1, 2, 3, 4, 5].map(settleQuorum)).toEqual([1, 2, 2, 3, 3])
    for (let n = 1; n <= 20; n++) expect(settleQuorum(n)).toBe(majority(n))
  })

  it('the first signer by address settles at once, the others rank × 2.5 s later; outsiders and duplicates do not count', () => {
    const [a, b, c, outsider] = [address(1), address(2), address(3), address(9)]
    const round = { committee: [c, a, b], quorum: 2 }
    expect(settlePlan([outsider, a], round, a)).toBeUndefined() // one member: below the quorum
    expect(settlePlan([a, a.toLowerCase() as Address], round, a)).toBeUndefined() // the same signer twice
    expect(settlePlan([c, outsider, a], round, a)).toEqual({ signers: [a, c], rank: 0, delayMs: 0 })
    expect(settlePlan([c, b, a], round, c)).toEqual({ signers: [a, b, c], rank: 2, delayMs: 2 * SETTLE_STAGGER_MS })
    expect(settlePlan([c, b, a], round, b)?.delayMs).toBe(SETTLE_STAGGER_MS)
    // ascending by address value, whatever the case of the hex
    const low = getAddress('0x0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
    const high = getAddress('0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    expect(settlePlan([high, low], { committee: [high, low], quorum: 2 }, high)?.signers).toEqual([low, high])
  })

  it('rewards: an equal share per accepted contribution, whatever a trainer reports about its data', () => {
    const [a, b, c] = [address(1), address(2), address(3)]
    const leaves = rewardLeavesOf(
      [
        { account: a, payloadHash: hash64('a') },
        { account: b, payloadHash: `0x${hash64('b')}` },
      ],
      11n,
      7n,
    )
    expect(leaves).toEqual([
      { account: a, amount: 5n, reputationGain: 7n, commitment: `0x${hash64('a')}` },
      { account: b, amount: 5n, reputationGain: 7n, commitment: `0x${hash64('b')}` },
    ])
    // a sample count is not an input: a trainer claiming a million samples gets what the others get
    const liar = { account: c, numSamples: 1_000_000, payloadHash: hash64('c') }
    const honest = { account: a, numSamples: 10, payloadHash: hash64('a') }
    const split = rewardLeavesOf([honest, liar], parseEther('100'), 10n)
    expect(split.map((l) => l.amount)).toEqual([parseEther('50'), parseEther('50')])
    // an account listed twice is paid once; the pool is split between accounts
    const twice = rewardLeavesOf([honest, { ...honest, payloadHash: hash64('a2') }, liar], parseEther('100'), 10n)
    expect(twice.map((l) => [l.account, l.amount])).toEqual([
      [a, parseEther('50')],
      [c, parseEther('50')],
    ])
    const thirds = rewardLeavesOf(
      [a, b, c].map((account) => ({ account, payloadHash: hash64(account) })),
      parseEther('100'),
      10n,
    )
    expect(thirds.map((l) => l.amount)).toEqual(Array(3).fill(33_333_333_333_333_333_333n))
    expect(thirds.reduce((s, l) => s + l.amount, 0n)).toBeLessThanOrEqual(parseEther('100'))
    // what RoundManager.claim enforces: each amount <= totalReward / contributions
    const total = thirds.reduce((s, l) => s + l.amount, 0n)
    for (const l of thirds) expect(l.amount).toBeLessThanOrEqual(total / BigInt(thirds.length))
    expect(rewardPerContribution(parseEther('100'), 0)).toBe(0n)
  })

  it("reputation per contribution is the round's on-chain cap, or a configured figure below it", () => {
    expect(reputationPerContribution(10n)).toBe(10n)
    expect(reputationPerContribution(10n, 4n)).toBe(4n)
    expect(reputationPerContribution(10n, 1_000n)).toBe(10n)
  })

  it("a chain round stays open 3 × the protocol round's deadline + 60 s (3,600 s when unknown)", () => {
    expect(chainRoundSeconds(20_000)).toBe(120)
    expect(chainRoundSeconds(600_000)).toBe(1_860)
    expect(chainRoundSeconds(undefined)).toBe(3_600)
    expect(chainRoundSeconds(0)).toBe(3_600)
  })

  it('slashing evidence: only a member of the quorum sends it, one signature per dissenting member', () => {
    const [a, b, c, outsider] = [address(1), address(2), address(3), address(9)]
    const settled: SettlementResult = {
      roundId: 4n,
      modelHash: `0x${'ab'.repeat(32)}`,
      rewardsRoot: `0x${'cd'.repeat(32)}`,
      totalReward: 10n,
      contributions: 2,
    }
    const other = { ...settled, modelHash: `0x${'ef'.repeat(32)}` as Hex }
    const third = { ...settled, totalReward: 9n }
    const sig = (n: number) => `0x${n.toString(16).padStart(130, '0')}` as Hex
    const votes = [
      { result: settled, signer: a, signature: sig(1) },
      {
        result: { ...settled, modelHash: settled.modelHash.toUpperCase().replace('0X', '0x') as Hex },
        signer: b,
        signature: sig(2),
      },
      { result: other, signer: c, signature: sig(3) },
      { result: third, signer: c, signature: sig(4) },
      { result: other, signer: outsider, signature: sig(5) },
    ]
    expect(dissentEvidence(settled, settled, votes, [a, b, c])).toEqual([
      { result: other, signer: c, signature: sig(3) },
    ])
    expect(dissentEvidence(settled, other, votes, [a, b, c])).toEqual([]) // not in the quorum: no evidence worth sending
    expect(dissentEvidence(settled, undefined, votes, [a, b, c])).toEqual([])
  })
})

describe('settlement votes', () => {
  const domain = { chainId: shared.chain.id, roundManager: address(0x5) }
  const result: SettlementResult = {
    roundId: 1n,
    modelHash: modelHashOf(cidOf('m')),
    rewardsRoot: `0x${'11'.repeat(32)}`,
    totalReward: parseEther('3'),
    contributions: 2,
  }
  const member = privateKeyToAccount(shared.keys[1]!)
  const other = privateKeyToAccount(shared.keys[2]!)
  const round = { jobId: hash64('job'), round: 0, attempt: 0 }

  it('a vote signed by its signer is accepted', async () => {
    const vote = settleVoteOf(
      round,
      result,
      member.address,
      await member.signTypedData(settlementResultTypedData(result, domain)),
    )
    const checked = await verifySettleVote(JSON.parse(JSON.stringify(vote)), domain)
    expect(checked.signer).toBe(member.address)
    expect(checked.result).toEqual(result)
  })

  it('a vote claiming another signer, with a bad signature, or malformed is refused with a typed error', async () => {
    const signature = await other.signTypedData(settlementResultTypedData(result, domain))
    const wrongSigner = settleVoteOf(round, result, member.address, signature)
    await expect(verifySettleVote(wrongSigner, domain)).rejects.toSatisfy(
      (e: unknown) => e instanceof InvalidSettleVoteError && /signed by/.test((e as Error).message),
    )
    // the signature of another result (the signer's own) does not vouch for this one
    const tampered = settleVoteOf(round, { ...result, totalReward: parseEther('4') }, other.address, signature)
    await expect(verifySettleVote(tampered, domain)).rejects.toBeInstanceOf(InvalidSettleVoteError)
    const garbage = settleVoteOf(round, result, member.address, `0x${'00'.repeat(65)}`)
    await expect(verifySettleVote(garbage, domain)).rejects.toHaveProperty('name', 'InvalidSettleVoteError')
    for (const malformed of [null, {}, { ...wrongSigner, extra: 1 }, { ...wrongSigner, signature: '0x12' }]) {
      await expect(verifySettleVote(malformed, domain)).rejects.toHaveProperty('name', 'InvalidSettleVoteError')
    }
  })
})

/** Votes delivered to every other subscriber, as gossip does. */
function gossipBus() {
  const handlers = new Set<(vote: SettleVote) => void>()
  return {
    /** Publishes as nobody in particular (a rogue or test peer). */
    inject(vote: SettleVote): void {
      for (const h of handlers) setImmediate(() => h(vote))
    },
    port(): SettleVoteGossip {
      let mine: ((vote: SettleVote) => void) | undefined
      return {
        async publish(vote) {
          for (const h of handlers) if (h !== mine) setImmediate(() => h(vote))
        },
        subscribe(handler) {
          mine = handler
          handlers.add(handler)
          return () => handlers.delete(handler)
        },
      }
    },
  }
}

/** A logger whose lines can be waited for. */
function watchedLog(): SettlementLogger & { next(pattern: RegExp): Promise<string> } {
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>()
  const line = (msg: string, fields?: Record<string, unknown>) => {
    const text = `${msg} ${JSON.stringify(fields ?? {})}`
    if (process.env.VAIN_TEST_LOGS) console.error(text)
    for (const w of waiters) {
      if (w.pattern.test(text)) {
        waiters.delete(w)
        w.resolve(text)
      }
    }
  }
  return {
    debug: line,
    info: line,
    warn: line,
    error: line,
    next: (pattern) => new Promise((resolve) => waiters.add({ pattern, resolve })),
  }
}

/** The first `type` event of `s` whose detail matches (listening from now on). */
const event = <K extends keyof SettlementEvents>(
  s: Settlement,
  type: K,
  match: (d: SettlementEvents[K]['detail']) => boolean = () => true,
): Promise<SettlementEvents[K]['detail']> =>
  new Promise((resolve) => {
    const listener = (e: SettlementEvents[K]): void => {
      if (!match(e.detail)) return
      s.removeEventListener(type, listener)
      resolve(e.detail)
    }
    s.addEventListener(type, listener)
  })

describe('settling a round on chain', () => {
  const bus = gossipBus()
  const nodes: Array<{
    peerId: string
    vain: VainClient
    settlement: Settlement
    participant: TypedEventEmitter<SettlementParticipantEvents>
    log: ReturnType<typeof watchedLog>
  }> = []
  let admin: VainClient
  const jobId = hash64('settlement-job')
  const model = cidOf('round-1-model')
  let settledRoundId: bigint | undefined

  beforeAll(async () => {
    // reputation thresholds at 0: stake alone decides the tier (tier 3 from 10,000 VAIN)
    const suite = await freshSuite(shared, {
      nodes: [1, 2, 3],
      params: { reputation: { minReputation: [0n, 0n, 0n] } },
    })
    admin = suite.admin
    const clients = [admin, ...suite.nodes]
    for (const [i, vain] of clients.entries()) {
      const { key, peerId } = libp2pIdentity(`settlement-${i}`)
      if (i > 0) {
        await vain.staking.stake(parseEther('10000'))
        await vain.registry.register(key)
      } else {
        // the creator opens and funds the rounds: the network asks creators for tier 1 (a stake)
        await vain.staking.stake(parseEther('100'))
      }
      const log = watchedLog()
      const participant = new TypedEventEmitter<SettlementParticipantEvents>()
      const settlement = createSettlement({
        chain: { vain },
        gossip: bus.port(),
        self: peerId,
        log,
        rewardPerRound: parseEther('30'),
        reputationPerContribution: 10n,
        pollMs: 100,
      })
      await settlement.start(participant)
      nodes.push({ peerId, vain, settlement, participant, log })
    }
  })

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.settlement.stop()))
  })

  it('the creator opens the round, the committee settles it with a quorum, the trainers claim equal shares', async () => {
    const [creator, a, b, c] = nodes as [(typeof nodes)[number], ...typeof nodes]
    const members = [a, b, c]
    const contributions: Contribution[] = [
      { trainer: a!.peerId, numSamples: 100, payloadHash: hash64('update-a'), payloadBytes: 1000 },
      { trainer: b!.peerId, numSamples: 200, payloadHash: hash64('update-b'), payloadBytes: 1000 },
      // a trainer that is not registered on chain gets nothing (and is not in the tree)
      { trainer: '12D3KooWUnregistered', numSamples: 300, payloadHash: hash64('update-x'), payloadBytes: 1000 },
    ]
    const opened = event(creator.settlement, 'round:opened')
    const settled = event(a!.settlement, 'round:settled')
    const claimedA = event(a!.settlement, 'reward:claimed', (r) => r.byMe)
    const claimedB = event(b!.settlement, 'reward:claimed', (r) => r.byMe)
    for (const n of nodes) {
      n.participant.safeDispatchEvent('job:joined', { detail: { jobId, creator: creator.peerId } })
      n.participant.safeDispatchEvent('round:started', {
        detail: { jobId, round: 0, attempt: 0, committee: members.map((m) => m!.peerId) },
      })
    }
    const round = await opened
    expect(round).toMatchObject({ byMe: true, jobId, round: 0, key: roundKey(jobId, 0, 0), quorum: 2 })
    expect(round.committee).toEqual(members.map((m) => m!.vain.account))

    for (const m of members) {
      m!.participant.safeDispatchEvent('result:published', {
        detail: { jobId, round: 0, attempt: 0, newModel: model, contributions, aggregator: m!.peerId },
      })
    }
    const s = await settled
    expect(s).toMatchObject({
      roundId: round.roundId,
      modelHash: modelHashOf(model),
      contributions: 2,
      jobId,
      round: 0,
    })
    expect(s.signers).toBeGreaterThanOrEqual(settleQuorum(3))
    // b reported twice a's samples: the same share (30 VAIN / 2 accepted contributions)
    expect(s.totalReward).toBe(parseEther('30'))
    expect((await admin.rounds.roundOf(round.roundId)).status).toBe('settled')
    settledRoundId = round.roundId

    for (const n of nodes) {
      n.participant.safeDispatchEvent('round:completed', { detail: { jobId, round: 0, model, contributions } })
    }
    expect((await claimedA).amount).toBe(parseEther('15'))
    expect((await claimedB).amount).toBe(parseEther('15'))
    // 10 per accepted contribution (a and b), and 10 to each committee member whose signature settled the round
    const reputations = await Promise.all(members.map((m) => admin.reputation.reputationOf(m!.vain.account!)))
    expect(reputations[0]! - 10n).toBeOneOf([0n, 10n])
    expect(reputations.reduce((x, y) => x + y, 0n)).toBe(20n + 10n * BigInt(s.signers))
    expect(a!.settlement.stats().claimed).toEqual({ rounds: 1, amount: parseEther('15') })
    expect(members.reduce((sum, m) => sum + m!.settlement.stats().settled, 0)).toBeGreaterThanOrEqual(1)
  })

  it('a vote with a bad signature or from another signer is dropped; a member that signed another result is slashed', async () => {
    const [, a, b, c] = nodes
    const roundId = settledRoundId as bigint
    const info = await admin.rounds.roundOf(roundId)
    expect(info.status).toBe('settled')
    const domain = { chainId: shared.chain.id, roundManager: admin.addresses.roundManager }
    const dissent: SettlementResult = {
      roundId,
      modelHash: modelHashOf(cidOf('another-model')),
      rewardsRoot: info.rewardsRoot,
      totalReward: info.totalReward,
      contributions: 2,
    }
    const cKey = privateKeyToAccount(shared.keys[3]!)
    expect(cKey.address).toBe(c!.vain.account)
    const dissentSignature = await cKey.signTypedData(settlementResultTypedData(dissent, domain))
    const round = { jobId, round: 0, attempt: 0 }

    // forged: claims member b signed it (c did) — dropped, nobody is slashed for it
    const forged = a!.log.next(/dropped a settlement vote.*signed by/)
    bus.inject(settleVoteOf(round, dissent, b!.vain.account!, dissentSignature))
    await forged
    const garbage = a!.log.next(/dropped a settlement vote.*unreadable signature/)
    bus.inject(settleVoteOf(round, dissent, b!.vain.account!, `0x${'00'.repeat(65)}`))
    await garbage

    // c's own signature over another result: the quorum's members slash it
    const stakeBefore = await admin.staking.stakeOf(c!.vain.account!)
    const slashed = event(a!.settlement, 'dissenter:slashed')
    bus.inject(settleVoteOf(round, dissent, c!.vain.account!, dissentSignature))
    const e = await slashed
    expect(e).toMatchObject({ roundId, member: c!.vain.account })
    expect(await admin.staking.stakeOf(c!.vain.account!)).toBe(stakeBefore - parseEther('500'))
    expect(await admin.staking.stakeOf(b!.vain.account!)).toBe(parseEther('10000'))
  })

  it('the chain round of a failed attempt is refunded to its creator after its deadline; the retried attempt is settled', async () => {
    // c was slashed below tier 3 by the previous test: a committee of a and b
    const [creator, a, b] = nodes as [(typeof nodes)[number], ...typeof nodes]
    const members = [a!, b!]
    const job = hash64('refund-job')
    const newModel = cidOf('refund-job-model')
    const contributions: Contribution[] = [
      { trainer: a!.peerId, numSamples: 5, payloadHash: hash64('refund-a'), payloadBytes: 1000 },
    ]
    const balanceBefore = await admin.token.balanceOf(admin.account!)
    const openedFirst = event(creator.settlement, 'round:opened', (r) => r.key === roundKey(job, 0, 0))
    for (const n of nodes) {
      n.participant.safeDispatchEvent('job:joined', {
        detail: { jobId: job, creator: creator.peerId, spec: { roundDeadlineMs: 20_000 } },
      })
      n.participant.safeDispatchEvent('round:started', {
        detail: { jobId: job, round: 0, attempt: 0, committee: members.map((m) => m.peerId) },
      })
    }
    const first = await openedFirst
    // the chain round fits the protocol round (20 s): 3 × 20 s + 60 s, not an hour
    const openedAt = (await admin.publicClient.getBlock()).timestamp
    expect(first.deadline).toBeGreaterThan(openedAt + 100n)
    expect(first.deadline).toBeLessThanOrEqual(openedAt + 120n)

    // attempt 0 fails (no result): the round runs again with a new committee attempt, a new chain round
    const openedSecond = event(creator.settlement, 'round:opened', (r) => r.key === roundKey(job, 0, 1))
    const settled = event(a!.settlement, 'round:settled', (r) => r.jobId === job)
    for (const n of nodes) {
      n.participant.safeDispatchEvent('round:started', {
        detail: { jobId: job, round: 0, attempt: 1, committee: members.map((m) => m.peerId) },
      })
    }
    const second = await openedSecond
    for (const m of members) {
      m.participant.safeDispatchEvent('result:published', {
        detail: { jobId: job, round: 0, attempt: 1, newModel, contributions, aggregator: m.peerId },
      })
    }
    expect((await settled).roundId).toBe(second.roundId)
    expect((await admin.rounds.roundOf(first.roundId)).status).toBe('open')

    // past the first round's deadline, the creator's node cancels it: its pool comes back
    const refunded = event(creator.settlement, 'round:refunded', (r) => r.roundId === first.roundId)
    await shared.increaseTime(first.deadline - openedAt + 1n)
    const r = await refunded
    expect(r).toMatchObject({ byMe: true, fundedByMe: true, refund: parseEther('30'), jobId: job, round: 0 })
    expect((await admin.rounds.roundOf(first.roundId)).status).toBe('cancelled')
    expect(creator.settlement.stats().refunded).toEqual({ rounds: 1, amount: parseEther('30') })
    // the creator paid one round (30 VAIN to the one contribution), not two
    expect(balanceBefore - (await admin.token.balanceOf(admin.account!))).toBe(parseEther('30'))
  })
})

describe('which jobs a node with a chain takes on', () => {
  let judge: { settlement: Settlement; participant: TypedEventEmitter<SettlementParticipantEvents> }
  const peer = (name: string) => libp2pIdentity(`job-policy-${name}`).peerId
  const peerKey = (name: string) => libp2pIdentity(`job-policy-${name}`).key
  let roundManager: Address
  const asDeployer = async (functionName: 'setCreatorTier' | 'grantRole', args: readonly unknown[]) => {
    const hash = await shared.walletClient(0).writeContract({
      address: roundManager,
      abi: roundManagerAbi,
      functionName,
      args,
    } as never)
    await shared.publicClient.waitForTransactionReceipt({ hash })
  }

  beforeAll(async () => {
    // tiers from stake alone: tier 1 from 100 VAIN, tier 2 from 1,000
    const suite = await freshSuite(shared, {
      nodes: [4, 5, 6, 7, 8],
      params: { reputation: { minReputation: [0n, 0n, 0n] } },
    })
    roundManager = suite.deployment.addresses.roundManager
    expect(suite.deployment.params.rounds.creatorTier).toBe(1) // the default deployment asks creators for a stake
    const [tier1, tier2, tier2b, judgeVain, tier1b] = suite.nodes as VainClient[] as [
      VainClient,
      VainClient,
      VainClient,
      VainClient,
      VainClient,
    ]
    await tier1.staking.stake(parseEther('100'))
    await tier1.registry.register(peerKey('Tier1Opener'))
    await tier2.staking.stake(parseEther('1000'))
    await tier2.registry.register(peerKey('Tier2NoOpener'))
    await tier2b.staking.stake(parseEther('1000'))
    await tier2b.registry.register(peerKey('Tier2Opener'))
    await tier1b.staking.stake(parseEther('100'))
    await tier1b.registry.register(peerKey('Tier1OpenerLate'))
    await asDeployer('grantRole', [VAIN_ROLES.OPENER, tier1.account])
    await asDeployer('grantRole', [VAIN_ROLES.OPENER, tier1b.account])
    await asDeployer('grantRole', [VAIN_ROLES.OPENER, tier2b.account])
    const participant = new TypedEventEmitter<SettlementParticipantEvents>()
    const settlement = createSettlement({
      chain: { vain: judgeVain },
      gossip: gossipBus().port(),
      self: peer('Judge'),
      pollMs: 100,
    })
    await settlement.start(participant)
    judge = { settlement, participant }
  })

  afterAll(async () => {
    await judge?.settlement.stop()
  })

  const refusal = async (creator: string): Promise<JobCreatorRefusedError> => {
    const err = await judge.settlement.jobPolicy.admit({ jobId: hash64(creator), creator }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(JobCreatorRefusedError)
    return err as JobCreatorRefusedError
  }

  it('admits a registered, staked creator that may open (fund) rounds; refuses the others, saying why', async () => {
    await expect(
      judge.settlement.jobPolicy.admit({ jobId: hash64('a'), creator: peer('Tier1Opener') }),
    ).resolves.toBeUndefined()
    expect((await refusal(peer('Unregistered'))).message).toMatch(/is not registered on chain/)
    expect((await refusal(peer('Tier2NoOpener'))).message).toMatch(/may not open rounds on chain \(no OPENER role\)/)
    // a fresh key gossiping many jobs costs one verdict: later admissions are answered from it
    const many = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) =>
        judge.settlement.jobPolicy.admit({ jobId: hash64(`x${i}`), creator: peer('Unregistered') }),
      ),
    )
    expect(many.every((r) => r.status === 'rejected' && r.reason instanceof JobCreatorRefusedError)).toBe(true)
  })

  it("the creators' tier is the network's, read from chain: raised to 2, a tier-1 creator is refused", async () => {
    await asDeployer('setCreatorTier', [2])
    // a creator not judged before (verdicts are kept a few seconds)
    await expect(
      judge.settlement.jobPolicy.admit({ jobId: hash64('b'), creator: peer('Tier2Opener') }),
    ).resolves.toBeUndefined()
    expect((await refusal(peer('Tier1OpenerLate'))).message).toMatch(
      /is tier 1 with 100 VAIN staked; the network asks job creators for tier 2/,
    )
    await asDeployer('setCreatorTier', [1])
  })

  it('a job whose creator opens no chain round is reported unfunded after three rounds in a row', async () => {
    await judge.settlement.ready()
    const jobId = hash64('unfunded-job')
    const unfunded = event(judge.settlement, 'job:unfunded')
    judge.participant.safeDispatchEvent('job:joined', { detail: { jobId, creator: peer('Tier1Opener') } })
    for (const round of [0, 1, 2, 3]) {
      judge.participant.safeDispatchEvent('round:started', { detail: { jobId, round, attempt: 0, committee: [] } })
    }
    expect(await unfunded).toEqual({ jobId, rounds: DEFAULT_MAX_UNFUNDED_ROUNDS })
  })
})
