/**
 * Deploys the vAIn suite and wires its roles:
 * the round manager and ProofChallenges (with its UpdateNormVerifier) may slash stake and update
 * reputation; governance may change every parameter and slash. With `admin: 'deployer'` (default;
 * for demos and tests) the deployer also keeps the admin, governor and opener roles; with
 * `admin: 'governance'` it hands the admin role to Governance and renounces all of its own, so only
 * passed proposals can change the rules.
 *
 * A new network under the production thresholds has no tier-3 node, so no committee, no settled
 * round and nobody earning reputation. `genesis` is its bootstrap: the Reputation contract is
 * constructed with a genesis set holding `reputation` each (default: the tier-3 minimum × 2), so
 * that once staked at tier 3 they can form the first committees. Genesis reputation decays like any
 * other; committee members gain `rounds.committeeReputationPerRound` per round they settle, and
 * trainers their claims, so the genesis set keeps its tier only while it works, and trainers climb
 * to tier 3 (`pnpm --filter @vain/chain bootstrap:demo` shows it).
 *
 * @example
 * ```ts
 * import { deployVain } from '@vain/chain'
 * const { addresses } = await deployVain(walletClient, { staking: { cooldownSeconds: 60n } })
 * // a production network with a genesis committee of four
 * await deployVain(walletClient, { admin: 'governance', genesis: { members: [a, b, c, d] } })
 * ```
 * @module
 */
import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  parseEther,
  publicActions,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem'
import {
  governanceAbi,
  governanceBytecode,
  nodeRegistryAbi,
  nodeRegistryBytecode,
  poseidonT3Abi,
  poseidonT3Bytecode,
  proofChallengesAbi,
  proofChallengesBytecode,
  reputationAbi,
  reputationBytecode,
  roundManagerAbi,
  roundManagerBytecode,
  stakingAbi,
  stakingBytecode,
  tierGroupsAbi,
  tierGroupsBytecode,
  updateNormVerifierAbi,
  updateNormVerifierBytecode,
  vainTokenAbi,
  vainTokenBytecode,
  voteVerifierAbi,
  voteVerifierBytecode,
} from './abi/index.js'
import type { VainAddresses } from './client.js'
import { decodeRevert, InvalidInputError, TransactionRevertedError } from './errors.js'
import { VAIN_ROLES } from './roles.js'

type Triple = readonly [bigint, bigint, bigint]

/** Parameters of the suite; every field has a default. */
export interface DeployVainParams {
  token?: {
    name?: string
    symbol?: string
    /** Whole supply, minted once (default 1,000,000,000 VAIN). */
    initialSupply?: bigint
    /** Receives the supply (default: the deployer). */
    holder?: Address
  }
  staking?: {
    /** Unstake cooldown (default 7 days); must be longer than `governance.votingPeriodSeconds`. */
    cooldownSeconds?: bigint
    /** Receives slashed stake; omitted or zero: slashed stake is burned. */
    treasury?: Address
    /** Minimum stake of tiers 1, 2, 3 (default 100 / 1,000 / 10,000 VAIN). */
    minStake?: Triple
  }
  reputation?: {
    /** Default 1 day. */
    decayPeriodSeconds?: bigint
    /** Share lost per period in basis points (default 100 = 1 %). */
    decayBps?: number
    /** Minimum reputation of tiers 1, 2, 3 (default 0 / 100 / 1,000). */
    minReputation?: Triple
  }
  rounds?: {
    /** Stake taken from a proven dissenter (default 500 VAIN). */
    dissentSlash?: bigint
    /** Reputation taken from a proven dissenter (default 100). */
    dissentReputationPenalty?: bigint
    /**
     * Tier a job's creator needs to open and fund rounds (default 1: staked; 0: none). Nodes
     * with the `staked` job policy read it to decide which announced jobs they take on.
     */
    creatorTier?: 0 | 1 | 2 | 3
    /**
     * Reputation each committee member whose signature settles a round with contributions gains
     * (default 10, as much as one claim may add).
     */
    committeeReputationPerRound?: bigint
  }
  /**
   * Penalties of an upheld update-proof challenge (ProofChallenges): a settled contribution whose
   * Groth16 proof does not verify costs its trainer, and each committee member that settled it.
   */
  challenges?: {
    /** Stake taken from the trainer (default 100 VAIN, the tier-1 minimum). */
    trainerSlash?: bigint
    /** Reputation taken from the trainer (default 100). */
    trainerReputationPenalty?: bigint
    /** Stake taken from each committee member (default 500 VAIN, as for a proven dissenter). */
    committeeSlash?: bigint
    /** Reputation taken from each committee member (default 100). */
    committeeReputationPenalty?: bigint
  }
  /**
   * The genesis set of a new network (default: none): nodes given `reputation` each in the
   * Reputation contract's constructor, at deployment and never again. It decays like any other.
   */
  genesis?: {
    /** 1..64 distinct addresses. */
    members: readonly Address[]
    /** Reputation of each (default twice the tier-3 minimum reputation: 2,000 by default). */
    reputation?: bigint
  }
  governance?: {
    /** Default 3 days; must be shorter than `staking.cooldownSeconds` (the contracts enforce it). */
    votingPeriodSeconds?: bigint
    /** Default 2 days. */
    timelockSeconds?: bigint
    /**
     * Minimum for + abstain weight, in weight units: stake in wei × tier (a vote weighs the
     * voter's stake times its tier 1/2/3, both at the proposal's snapshot). Default
     * `parseEther('100000')`: four tier-3 nodes at the tier-3 minimum of 10,000 VAIN reach it,
     * three do not.
     */
    quorumVotes?: bigint
    /** Minimum tier to propose (default 2). */
    proposalTier?: 1 | 2 | 3
  }
  /** Who keeps control after deployment (default `'deployer'`). */
  admin?: 'deployer' | 'governance'
  /**
   * Also deploy the anonymous-voting contracts (PoseidonT3, TierGroups, VoteVerifier) and turn
   * anonymous voting on in Governance (default false; `@vain/chain/zk`'s `deployAnonymousVoting`
   * does it later, while the deployer may).
   */
  anonymousVoting?: boolean
}

/** What {@link deployVain} returns. */
export interface VainDeployment {
  addresses: VainAddresses
  /** Block of the last deployment transaction. */
  blockNumber: bigint
  /** Gas used by all deployment and wiring transactions. */
  gasUsed: bigint
  /** The parameters with defaults applied. */
  params: ResolvedParams
  /** Set with `anonymousVoting: true`. */
  anonymousVoting?: { tierGroups: Address; voteVerifier: Address; poseidonT3: Address }
}

type ResolvedParams = {
  token: { name: string; symbol: string; initialSupply: bigint; holder: Address }
  staking: { cooldownSeconds: bigint; treasury: Address; minStake: Triple }
  reputation: { decayPeriodSeconds: bigint; decayBps: number; minReputation: Triple }
  rounds: {
    dissentSlash: bigint
    dissentReputationPenalty: bigint
    creatorTier: 0 | 1 | 2 | 3
    committeeReputationPerRound: bigint
  }
  challenges: {
    trainerSlash: bigint
    trainerReputationPenalty: bigint
    committeeSlash: bigint
    committeeReputationPenalty: bigint
  }
  genesis: { members: readonly Address[]; reputation: bigint }
  governance: { votingPeriodSeconds: bigint; timelockSeconds: bigint; quorumVotes: bigint; proposalTier: 1 | 2 | 3 }
  admin: 'deployer' | 'governance'
}

function resolve(p: DeployVainParams, deployer: Address): ResolvedParams {
  const r: ResolvedParams = {
    token: {
      name: p.token?.name ?? 'vAIn',
      symbol: p.token?.symbol ?? 'VAIN',
      initialSupply: p.token?.initialSupply ?? parseEther('1000000000'),
      holder: p.token?.holder ?? deployer,
    },
    staking: {
      cooldownSeconds: p.staking?.cooldownSeconds ?? 7n * 86_400n,
      treasury: p.staking?.treasury ?? zeroAddress,
      minStake: p.staking?.minStake ?? [parseEther('100'), parseEther('1000'), parseEther('10000')],
    },
    reputation: {
      decayPeriodSeconds: p.reputation?.decayPeriodSeconds ?? 86_400n,
      decayBps: p.reputation?.decayBps ?? 100,
      minReputation: p.reputation?.minReputation ?? [0n, 100n, 1000n],
    },
    rounds: {
      dissentSlash: p.rounds?.dissentSlash ?? parseEther('500'),
      dissentReputationPenalty: p.rounds?.dissentReputationPenalty ?? 100n,
      creatorTier: p.rounds?.creatorTier ?? 1,
      committeeReputationPerRound: p.rounds?.committeeReputationPerRound ?? 10n,
    },
    challenges: {
      trainerSlash: p.challenges?.trainerSlash ?? parseEther('100'),
      trainerReputationPenalty: p.challenges?.trainerReputationPenalty ?? 100n,
      committeeSlash: p.challenges?.committeeSlash ?? parseEther('500'),
      committeeReputationPenalty: p.challenges?.committeeReputationPenalty ?? 100n,
    },
    genesis: { members: [], reputation: 0n },
    governance: {
      votingPeriodSeconds: p.governance?.votingPeriodSeconds ?? 3n * 86_400n,
      timelockSeconds: p.governance?.timelockSeconds ?? 2n * 86_400n,
      quorumVotes: p.governance?.quorumVotes ?? parseEther('100000'),
      proposalTier: p.governance?.proposalTier ?? 2,
    },
    admin: p.admin ?? 'deployer',
  }
  const ascending = (t: Triple) => t[0] <= t[1] && t[1] <= t[2]
  const members = p.genesis?.members ?? []
  if (members.length > 0) {
    r.genesis = { members, reputation: p.genesis?.reputation ?? 2n * r.reputation.minReputation[2] }
  }
  const distinct = new Set(members.map((m) => m.toLowerCase()))
  const problems = [
    r.staking.minStake[0] > 0n && ascending(r.staking.minStake)
      ? ''
      : 'staking.minStake must be > 0 and non-decreasing',
    ascending(r.reputation.minReputation) ? '' : 'reputation.minReputation must be non-decreasing',
    r.reputation.decayPeriodSeconds > 0n ? '' : 'reputation.decayPeriodSeconds must be > 0',
    r.reputation.decayBps >= 0 && r.reputation.decayBps <= 10_000 ? '' : 'reputation.decayBps must be in 0..10000',
    r.staking.cooldownSeconds <= 365n * 86_400n ? '' : 'staking.cooldownSeconds must be at most 365 days',
    r.governance.votingPeriodSeconds > 0n && r.governance.timelockSeconds > 0n && r.governance.quorumVotes > 0n
      ? ''
      : 'governance periods and quorum must be > 0',
    r.staking.cooldownSeconds > r.governance.votingPeriodSeconds
      ? ''
      : 'staking.cooldownSeconds must be longer than governance.votingPeriodSeconds',
    members.length <= 64 && distinct.size === members.length && !distinct.has(zeroAddress)
      ? ''
      : 'genesis.members must be at most 64 distinct non-zero addresses',
    members.length === 0 || (r.genesis.reputation > 0n && r.genesis.reputation < 2n ** 160n)
      ? ''
      : 'genesis.reputation must be > 0 and below 2^160',
    Object.values(r.challenges).every((v) => v >= 0n) ? '' : 'challenges penalties must be >= 0',
    r.rounds.committeeReputationPerRound >= 0n && r.rounds.committeeReputationPerRound < 2n ** 64n
      ? ''
      : 'rounds.committeeReputationPerRound must fit in 64 bits',
  ].filter((s) => s !== '')
  if (problems.length > 0) throw new InvalidInputError(`invalid deployment parameters: ${problems.join('; ')}`)
  return r
}

/**
 * Deploys Token, Staking, Reputation, NodeRegistry, RoundManager, Governance, UpdateNormVerifier
 * and ProofChallenges with `client`'s account, wires their roles and returns the addresses.
 *
 * @throws {@link InvalidInputError} for inconsistent parameters; decoded contract errors if a
 * deployment reverts.
 */
export async function deployVain(
  client: WalletClient<Transport, Chain | undefined, Account>,
  params: DeployVainParams = {},
  options: { publicClient?: PublicClient } = {},
): Promise<VainDeployment> {
  const deployer = client.account.address
  const p = resolve(params, deployer)
  const reader = options.publicClient ?? (client.extend(publicActions) as unknown as PublicClient)
  let gasUsed = 0n
  let blockNumber = 0n

  async function mined(hash: Hex) {
    const receipt = await reader.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
    gasUsed += receipt.gasUsed
    blockNumber = receipt.blockNumber
    return receipt
  }
  async function deploy(abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> {
    try {
      const hash = await client.deployContract({
        abi,
        bytecode,
        args,
        account: client.account,
        chain: client.chain,
      } as any)
      const receipt = await mined(hash)
      return receipt.contractAddress!
    } catch (err) {
      throw decodeRevert(err)
    }
  }
  async function call(address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
    try {
      const hash = await client.writeContract({
        address,
        abi,
        functionName,
        args,
        account: client.account,
        chain: client.chain,
      } as any)
      await mined(hash)
    } catch (err) {
      throw decodeRevert(err)
    }
  }

  const token = await deploy(vainTokenAbi, vainTokenBytecode, [
    p.token.name,
    p.token.symbol,
    p.token.initialSupply,
    p.token.holder,
  ])
  const staking = await deploy(stakingAbi, stakingBytecode, [
    token,
    p.staking.cooldownSeconds,
    p.staking.treasury,
    p.staking.minStake,
    deployer,
  ])
  const reputation = await deploy(reputationAbi, reputationBytecode, [
    staking,
    p.reputation.decayPeriodSeconds,
    p.reputation.decayBps,
    p.reputation.minReputation,
    deployer,
    p.genesis.members,
    p.genesis.reputation,
  ])
  const registry = await deploy(nodeRegistryAbi, nodeRegistryBytecode, [staking])
  const roundManager = await deploy(roundManagerAbi, roundManagerBytecode, [
    token,
    staking,
    reputation,
    p.rounds.dissentSlash,
    p.rounds.dissentReputationPenalty,
    deployer,
  ])
  const updateNormVerifier = await deploy(updateNormVerifierAbi, updateNormVerifierBytecode, [])
  const proofChallenges = await deploy(proofChallengesAbi, proofChallengesBytecode, [
    roundManager,
    updateNormVerifier,
    staking,
    reputation,
    [
      p.challenges.trainerSlash,
      p.challenges.trainerReputationPenalty,
      p.challenges.committeeSlash,
      p.challenges.committeeReputationPenalty,
    ],
    deployer,
  ])
  const governance = await deploy(governanceAbi, governanceBytecode, [
    staking,
    reputation,
    p.governance.votingPeriodSeconds,
    p.governance.timelockSeconds,
    p.governance.quorumVotes,
    p.governance.proposalTier,
  ])

  const { SLASHER, GOVERNOR, UPDATER, DEFAULT_ADMIN, OPENER } = VAIN_ROLES
  // from here on Staking refuses a cooldown not longer than governance's voting period
  await call(staking, stakingAbi, 'setGovernance', [governance])
  await call(staking, stakingAbi, 'grantRole', [SLASHER, roundManager])
  await call(staking, stakingAbi, 'grantRole', [SLASHER, governance])
  await call(staking, stakingAbi, 'grantRole', [SLASHER, proofChallenges])
  await call(staking, stakingAbi, 'grantRole', [GOVERNOR, governance])
  await call(reputation, reputationAbi, 'grantRole', [UPDATER, roundManager])
  await call(reputation, reputationAbi, 'grantRole', [UPDATER, proofChallenges])
  await call(reputation, reputationAbi, 'grantRole', [GOVERNOR, governance])
  await call(roundManager, roundManagerAbi, 'grantRole', [GOVERNOR, governance])
  await call(roundManager, roundManagerAbi, 'grantRole', [OPENER, governance])
  await call(proofChallenges, proofChallengesAbi, 'grantRole', [GOVERNOR, governance])
  if (p.rounds.creatorTier !== 0) await call(roundManager, roundManagerAbi, 'setCreatorTier', [p.rounds.creatorTier])
  if (p.rounds.committeeReputationPerRound !== 10n) {
    await call(roundManager, roundManagerAbi, 'setCommitteeReputationPerRound', [p.rounds.committeeReputationPerRound])
  }

  let anonymousVoting: VainDeployment['anonymousVoting']
  if (params.anonymousVoting === true) {
    const poseidonT3 = await deploy(poseidonT3Abi, poseidonT3Bytecode, [])
    // TierGroups links PoseidonT3: its placeholder (`__$<hash>$__`) becomes the library's address
    const linked = tierGroupsBytecode.replace(/__\$[0-9a-fA-F]{34}\$__/g, poseidonT3.slice(2).toLowerCase()) as Hex
    const tierGroups = await deploy(tierGroupsAbi, linked, [reputation])
    const voteVerifier = await deploy(voteVerifierAbi, voteVerifierBytecode, [])
    await call(governance, governanceAbi, 'setAnonymousVoting', [tierGroups, voteVerifier])
    anonymousVoting = { tierGroups, voteVerifier, poseidonT3 }
  }

  if (p.admin === 'governance') {
    for (const [address, abi, roles] of [
      [staking, stakingAbi, [GOVERNOR]],
      [reputation, reputationAbi, [GOVERNOR]],
      [roundManager, roundManagerAbi, [GOVERNOR, OPENER]],
      [proofChallenges, proofChallengesAbi, [GOVERNOR]],
    ] as const) {
      await call(address, abi, 'grantRole', [DEFAULT_ADMIN, governance])
      for (const role of roles) await call(address, abi, 'renounceRole', [role, deployer])
      await call(address, abi, 'renounceRole', [DEFAULT_ADMIN, deployer])
    }
    // the deployer's one-time power to turn anonymous voting on (Governance.setAnonymousVoting, before
    // any proposal) is spent here (with zero addresses unless `anonymousVoting` used it): from now
    // on only a passed proposal may change it
    if (anonymousVoting === undefined)
      await call(governance, governanceAbi, 'setAnonymousVoting', [zeroAddress, zeroAddress])
  }

  return {
    addresses: { token, staking, reputation, registry, roundManager, governance, proofChallenges },
    blockNumber,
    gasUsed,
    params: p,
    ...(anonymousVoting !== undefined ? { anonymousVoting } : {}),
  }
}
