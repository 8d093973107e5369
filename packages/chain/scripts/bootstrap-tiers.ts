/**
 * Bootstrapping a network under the PRODUCTION parameters (`deployVain`'s defaults, admin handed to
 * Governance): tiers need 100 / 1,000 / 10,000 VAIN staked and reputation 0 / 100 / 1,000, a claim
 * adds at most 10 reputation, reputation decays 1 % a day, committees need tier 3. Without a
 * genesis set nobody is tier 3, so no round can ever be opened. With one:
 *
 * 1. the genesis set (reputation 2,000 each at deployment) stakes 10,000 VAIN: tier 3;
 * 2. it governs: a proposal grants the job creator the OPENER role (voting period + timelock: 5 days);
 * 3. it sits on the committees of the first rounds; trainers (tier 1, staked) claim 10 reputation
 *    per accepted contribution and climb: tier 2 at 100, tier 3 at 1,000 (a trainer staked for
 *    tier 2 only stays there); committee members gain 10 per round they settle;
 * 4. once three trainers are tier 3 they form the committee and the genesis set stops working:
 *    its reputation decays until it falls to tier 2.
 *
 * Run: `pnpm --filter @vain/chain bootstrap:demo` (options: `--every N` prints every Nth round
 * besides the rounds where a tier changes; `--hours H` hours between rounds, default 2).
 * `bootstrapTiers` is what `test/bootstrap.test.ts` runs, shortened.
 * @module
 */
import {
  type Account,
  type Address,
  type Chain,
  encodeFunctionData,
  formatEther,
  type Hex,
  keccak256,
  maxUint256,
  parseEther,
  publicActions,
  sha256,
  type Transport,
  toHex,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  buildRewardTree,
  checkEligibility,
  connectVain,
  type DeployVainParams,
  deployVain,
  roleTiersWith,
  roundManagerAbi,
  settlementResultFrom,
  startLocalChain,
  VAIN_ROLES,
  type VainClient,
} from '../src/index.js'
import {
  chainRoundSeconds,
  modelHashOf,
  reputationPerContribution,
  rewardLeavesOf,
  roundKey,
} from '../src/settlement/index.js'

/** What {@link bootstrapTiers} needs of a chain: a local chain, or the test run's shared one. */
export interface BootstrapChain {
  rpcUrl: string
  chain: Chain
  /** Funded development keys; 9 are used (deployer and job creator, 4 genesis, 4 trainers). */
  privateKeys: readonly Hex[]
  walletClient(index: number): WalletClient<Transport, Chain, Account>
  increaseTime(seconds: bigint): Promise<void>
}

/** Options of {@link bootstrapTiers}. */
export interface BootstrapOptions {
  /** Give the genesis set its reputation at deployment (default true; false: the network as before). */
  genesis?: boolean
  /** Seconds between rounds while trainers climb (default 2 hours). */
  secondsPerRound?: bigint
  /**
   * Trainers t1..tN, 2..4 (default 4): the last one stakes for tier 2 only (1,000 VAIN), the others
   * for tier 3 (10,000 VAIN).
   */
  trainers?: number
  /** Stop once this many trainers are tier 3 (default 3: enough for a committee of their own). */
  untilTier3?: number
  /** Most rounds of the climb (default 200). */
  maxRounds?: number
  /**
   * After the climb, weeks of rounds settled by the trainers' committee while the genesis set no
   * longer works (default 0): `roundsPerWeek` rounds, then a week passes. Stops early once every
   * genesis member has fallen below tier 3.
   */
  retireWeeks?: number
  /** Rounds per week after the climb (default 10). */
  roundsPerWeek?: number
  /** A row of the table (default: none). */
  print?: (line: string) => void
  /** Print every Nth round besides rounds where a tier changes (default 10). */
  every?: number
}

/** A node's standing after a round. */
export interface BootstrapNode {
  name: string
  address: Address
  genesis: boolean
  tier: number
  reputation: bigint
}

/** What {@link bootstrapTiers} returns. */
export interface BootstrapReport {
  /** Rounds settled. */
  rounds: number
  /** Days since deployment (chain time). */
  days: number
  nodes: BootstrapNode[]
  /** The round after which each node first reached each tier: `tier3At.t1 === 104`. */
  tier2At: Record<string, number>
  tier3At: Record<string, number>
}

/** The production parameters: `deployVain`'s defaults, control handed to Governance. */
export const PRODUCTION: DeployVainParams = { admin: 'governance' }

/**
 * A bootstrapping network admits staked (tier-1) trainers: the chain has no trainer tier, and a
 * trainer that must already be tier 2 could never earn the reputation tier 2 asks for.
 */
export const BOOTSTRAP_ROLE_TIERS = roleTiersWith({ trainer: 1 })

const JOB = 'b0075742a9'.padEnd(64, '0')
const POOL = parseEther('100')
const DAY = 86_400n

/**
 * Deploys the suite with production parameters (and a genesis set unless `genesis: false`), then
 * runs rounds: the genesis committee signs and settles, trainers claim, time passes; returns who
 * reached which tier when. Throws what the chain throws: without a genesis set the first round
 * cannot be opened (`TierTooLowError`: no tier-3 committee), and no proposal can pass.
 */
export async function bootstrapTiers(chain: BootstrapChain, options: BootstrapOptions = {}): Promise<BootstrapReport> {
  const print = options.print ?? (() => {})
  const every = options.every ?? 10
  const secondsPerRound = options.secondsPerRound ?? 2n * 3_600n
  const trainerCount = Math.min(4, Math.max(2, options.trainers ?? 4))
  const keys = options.genesis === false ? [] : [1, 2, 3, 4]
  const address = (i: number) => privateKeyToAccount(chain.privateKeys[i]! as Hex).address
  const genesisAddresses = [1, 2, 3, 4].map(address)
  const params: DeployVainParams = {
    ...PRODUCTION,
    ...(keys.length > 0 ? { genesis: { members: keys.map(address) } } : {}),
  }
  const deployment = await deployVain(chain.walletClient(0), params)
  const t0 = await chainTime(chain)
  const connect = (i: number) =>
    connectVain({
      rpcUrl: chain.rpcUrl,
      addresses: deployment.addresses,
      privateKey: chain.privateKeys[i]! as Hex,
      chain: chain.chain,
      pollingIntervalMs: 10,
    })
  const creator = connect(0)
  type Node = { name: string; client: VainClient; address: Address; genesis: boolean; staked: bigint }
  const nodes: Node[] = [
    ...[1, 2, 3, 4].map((i, k) => ({ name: `g${k + 1}`, i, genesis: true, stake: parseEther('10000') })),
    ...[5, 6, 7, 8].slice(0, trainerCount).map((i, k) => ({
      name: `t${k + 1}`,
      i,
      genesis: false,
      // the last trainer stakes for tier 2 only: reputation alone does not make a tier
      stake: k === trainerCount - 1 ? parseEther('1000') : parseEther('10000'),
    })),
  ].map((n) => ({ name: n.name, client: connect(n.i), address: address(n.i), genesis: n.genesis, staked: n.stake }))
  for (const n of nodes) await creator.token.transfer(n.address, n.staked)
  await Promise.all(nodes.map((n) => n.client.staking.stake(n.staked)))
  await creator.staking.stake(parseEther('100')) // job creators need tier 1
  await creator.token.approve(deployment.addresses.roundManager, maxUint256)
  const { minStake, minReputation } = await creator.standing()

  print(
    `deployed with production parameters: tiers at ${minStake.map((s) => formatEther(s)).join(' / ')} VAIN and reputation ${minReputation.join(' / ')}, ` +
      `claims ≤ ${await creator.contracts.roundManager.read.maxReputationPerClaim()} reputation, decay ${deployment.params.reputation.decayBps / 100} %/day, committees of tier 3` +
      (keys.length > 0
        ? `; genesis set g1..g4 with reputation ${deployment.params.genesis.reputation} each`
        : '; no genesis set'),
  )

  // the genesis set governs: it grants the job creator the OPENER role (production: only governance has it)
  await chain.increaseTime(1n) // stake before the proposal's snapshot
  const grant = encodeFunctionData({
    abi: roundManagerAbi,
    functionName: 'grantRole',
    args: [VAIN_ROLES.OPENER, creator.account!],
  })
  const proposer = nodes[0]!.client
  const { proposalId } = await proposer.governance.propose(
    [{ target: deployment.addresses.roundManager, data: grant }],
    'let the job creator open rounds',
  )
  for (const g of nodes.filter((n) => n.genesis)) await g.client.governance.vote(proposalId, 'for')
  await chain.increaseTime(deployment.params.governance.votingPeriodSeconds + 1n)
  await creator.governance.queue(proposalId)
  await chain.increaseTime(deployment.params.governance.timelockSeconds + 1n)
  await creator.governance.execute(proposalId)
  print(
    `day ${(await dayOf(chain, t0)).toFixed(1)}: governance (the genesis set's votes) granted the job creator the OPENER role`,
  )

  const tier2At: Record<string, number> = {}
  const tier3At: Record<string, number> = {}
  let standings = await readStandings(nodes)
  for (const s of standings) {
    if (s.tier >= 2) tier2At[s.name] = 0
    if (s.tier >= 3) tier3At[s.name] = 0
  }
  const header = `${'round'.padStart(5)} ${'day'.padStart(6)}  ${nodes.map((n) => `${n.name}${n.genesis ? '*' : ''}`.padStart(11)).join('')}  committee`
  print(header)
  print('-'.repeat(header.length))
  const row = (round: number, day: number, committee: readonly Node[]) =>
    print(
      `${String(round).padStart(5)} ${day.toFixed(1).padStart(6)}  ${standings
        .map((s) => `T${s.tier} ${String(s.reputation).padStart(5)}`.padStart(11))
        .join('')}  ${committee.map((c) => c.name).join(',')}`,
    )
  row(0, await dayOf(chain, t0), [])

  let round = 0
  async function runRound(committee: readonly Node[], trainers: readonly Node[]): Promise<void> {
    round++
    const { timestamp } = await creator.publicClient.getBlock()
    const { roundId } = await creator.rounds.open({
      jobId: roundKey(JOB, round, 0),
      committee: committee.map((c) => c.address),
      deadline: timestamp + BigInt(chainRoundSeconds(20_000)),
      rewardPool: POOL,
    })
    const { maxReputationGain } = await creator.rounds.roundOf(roundId)
    const shares = trainers.map((t) => ({ account: t.address, payloadHash: keccak256(toHex(`${t.name}:${round}`)) }))
    const tree = buildRewardTree(roundId, rewardLeavesOf(shares, POOL, reputationPerContribution(maxReputationGain)))
    const result = settlementResultFrom(roundId, modelHashOf(sha256(toHex(`model ${round}`)).slice(2)), tree)
    const signatures = await Promise.all(committee.map((c) => c.client.rounds.signResult(result)))
    await creator.rounds.settle(result, signatures)
    await Promise.all(trainers.map((t) => t.client.rounds.claim(tree.claimFor(t.address))))
  }
  async function after(committee: readonly Node[], advance: bigint): Promise<void> {
    if (advance > 0n) await chain.increaseTime(advance)
    const before = standings
    standings = await readStandings(nodes)
    let changed = false
    for (const [k, s] of standings.entries()) {
      if (s.tier !== before[k]!.tier) changed = true
      if (s.tier >= 2 && tier2At[s.name] === undefined) tier2At[s.name] = round
      if (s.tier >= 3 && tier3At[s.name] === undefined) tier3At[s.name] = round
    }
    if (changed || round % every === 0) row(round, await dayOf(chain, t0), committee)
  }
  const tier3 = (n: Node) => standings.find((s) => s.name === n.name)!.tier >= 3
  const eligibleTrainer = (n: Node) => {
    const s = standings.find((x) => x.name === n.name)!
    return checkEligibility({ ...s, staked: n.staked, minStake, minReputation }, 'trainer', BOOTSTRAP_ROLE_TIERS)
      .eligible
  }

  // the climb: the genesis set's committee, the other nodes train
  const untilTier3 = options.untilTier3 ?? 3
  const climbers = () => nodes.filter((n) => !n.genesis && tier3(n))
  while (climbers().length < untilTier3 && round < (options.maxRounds ?? 200)) {
    const committee = nodes.filter((n) => n.genesis && tier3(n)).slice(0, 3)
    await runRound(
      committee,
      nodes.filter((n) => !n.genesis && eligibleTrainer(n)),
    )
    await after(committee, secondsPerRound)
  }

  // the genesis set retires: three trainers now at tier 3 settle the rounds, the others train
  const weeks = options.retireWeeks ?? 0
  if (weeks > 0)
    print(
      `genesis set stops working; ${climbers()
        .slice(0, 3)
        .map((n) => n.name)
        .join(', ')} form the committee`,
    )
  for (let week = 0; week < weeks; week++) {
    const committee = climbers().slice(0, 3)
    if (committee.length < 2) break
    const perWeek = options.roundsPerWeek ?? 10
    for (let k = 0; k < perWeek; k++) {
      await runRound(
        committee,
        nodes.filter((n) => !n.genesis && !committee.includes(n) && eligibleTrainer(n)),
      )
      await after(committee, k === perWeek - 1 ? 7n * DAY - BigInt(perWeek - 1) * 3_600n : 3_600n)
    }
    if (nodes.every((n) => !n.genesis || !tier3(n))) break
  }

  return {
    rounds: round,
    days: await dayOf(chain, t0),
    nodes: standings.map((s) => ({ ...s, genesis: genesisAddresses.includes(s.address) })),
    tier2At,
    tier3At,
  }
}

async function readStandings(nodes: ReadonlyArray<{ name: string; client: VainClient; address: Address }>) {
  return Promise.all(
    nodes.map(async (n) => {
      const [tier, reputation] = await Promise.all([
        n.client.reputation.tierOf(n.address),
        n.client.reputation.reputationOf(n.address),
      ])
      return { name: n.name, address: n.address, tier, reputation }
    }),
  )
}

async function chainTime(chain: BootstrapChain): Promise<bigint> {
  const { timestamp } = await chain.walletClient(0).extend(publicActions).getBlock()
  return timestamp
}

async function dayOf(chain: BootstrapChain, t0: bigint): Promise<number> {
  return Number((await chainTime(chain)) - t0) / Number(DAY)
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`)
    return i === -1 ? fallback : Number(process.argv[i + 1])
  }
  const chain = await startLocalChain({ accounts: 10 })
  try {
    const report = await bootstrapTiers(
      {
        rpcUrl: chain.rpcUrl,
        chain: chain.chain,
        privateKeys: chain.accounts.map((a) => a.privateKey),
        walletClient: (i) => chain.walletClient(i),
        increaseTime: (s) => chain.increaseTime(s),
      },
      {
        print: (line) => console.log(line),
        every: arg('every', 10),
        secondsPerRound: BigInt(Math.round(arg('hours', 2) * 3_600)),
        retireWeeks: arg('weeks', 30),
      },
    )
    const when = (at: Record<string, number>) =>
      Object.entries(at)
        .map(([name, r]) => `${name}@${r}`)
        .join(' ')
    console.log(
      `\n${report.rounds} rounds over ${report.days.toFixed(1)} days (* = genesis; T = tier, then reputation)\n` +
        `tier 2 reached: ${when(report.tier2At) || 'none'}\ntier 3 reached: ${when(report.tier3At) || 'none'}`,
    )
  } finally {
    await chain.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
