/**
 * Typed clients for the vAIn contracts. {@link createVainClient} takes viem clients and the
 * suite's addresses and returns one client per contract. Each has typed read methods, write
 * methods that simulate first (so a revert is decoded into a typed error such as
 * {@link StakeTooLowError} before anything is sent), send, wait for the receipt and return the
 * decoded events; and `contract`, the plain typed viem contract (`read`, `write`, `simulate`,
 * `watchEvent`, `getEvents`...) for anything else.
 *
 * @example
 * ```ts
 * import { connectVain } from '@vain/chain'
 *
 * const vain = connectVain({ rpcUrl, addresses, privateKey })
 * await vain.staking.stake(parseEther('100'))
 * await vain.registry.register(libp2pKey) // a secp256k1 libp2p PrivateKey: it signs the binding
 * console.log(await vain.standing(vain.account!)) // { staked, reputation, tier: 1, registered: true, ... }
 * ```
 * @module
 */
import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractEventName,
  createPublicClient,
  createWalletClient,
  type GetContractReturnType,
  getContract,
  type Hex,
  http,
  type ParseEventLogsReturnType,
  type PublicClient,
  parseEventLogs,
  parseSignature,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  governanceAbi,
  nodeRegistryAbi,
  reputationAbi,
  roundManagerAbi,
  stakingAbi,
  vainTokenAbi,
} from './abi/index.js'
import { allVainAbis } from './abi-all.js'
import { decodeRevert, InvalidInputError, NoWalletError, TransactionRevertedError } from './errors.js'
import type { RewardClaim } from './merkle.js'
import { type PeerKeyProof, type PeerKeySigner, signPeerIdBinding } from './peer-binding.js'
import { type RetryOptions, retryingTransport, withRetry } from './retry.js'
import { orderSignatures, type SettlementResult, settlementResultTypedData } from './rounds.js'

/** Addresses of a deployed vAIn suite. */
export interface VainAddresses {
  token: Address
  staking: Address
  reputation: Address
  registry: Address
  roundManager: Address
  governance: Address
  /**
   * ProofChallenges (on-chain challenges of settled update proofs; its `verifier()` is the
   * UpdateNormVerifier). Absent in suites deployed before it existed.
   */
  proofChallenges?: Address
}

/** What a write returns once mined. */
export interface TxResult<TAbi extends Abi = Abi> {
  hash: Hex
  receipt: TransactionReceipt
  /** The events the transaction emitted, decoded with the whole suite's ABI. */
  events: ParseEventLogsReturnType<TAbi, ContractEventName<TAbi>, true>
}

/** Options of {@link createVainClient}. */
export interface VainClientInit {
  publicClient: PublicClient
  /** Needed for writes; its account signs. */
  walletClient?: WalletClient<Transport, Chain | undefined, Account> | undefined
  addresses: VainAddresses
  /** Retries reads and receipt waits while the chain is unreachable (default: 3 attempts). */
  retry?: RetryOptions
}

type Ctx = {
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain | undefined, Account> | undefined
  retry: RetryOptions
}

/** Simulates (decoding reverts), sends, waits for the receipt and decodes the events. */
async function send(ctx: Ctx, call: { address: Address; abi: Abi; functionName: string; args?: readonly unknown[] }) {
  const wallet = ctx.walletClient
  if (wallet === undefined) throw new NoWalletError()
  let request: any
  try {
    ;({ request } = await withRetry(
      () => ctx.publicClient.simulateContract({ ...call, account: wallet.account } as any),
      ctx.retry,
    ))
  } catch (err) {
    throw decodeRevert(err)
  }
  let hash: Hex
  try {
    hash = await wallet.writeContract(request)
  } catch (err) {
    throw decodeRevert(err)
  }
  const receipt = await withRetry(() => ctx.publicClient.waitForTransactionReceipt({ hash }), ctx.retry)
  if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
  const events = parseEventLogs({ abi: allVainAbis, logs: receipt.logs })
  return { hash, receipt, events } as TxResult<typeof allVainAbis>
}

async function read<T>(ctx: Ctx, fn: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(fn, ctx.retry)
  } catch (err) {
    throw decodeRevert(err)
  }
}

/** The clients a contract instance uses: always a public client, a wallet for writes. */
export type VainContractClients = { public: PublicClient; wallet: WalletClient<Transport, Chain | undefined, Account> }

/** Plain typed viem contracts of the suite. */
export interface VainContracts {
  token: GetContractReturnType<typeof vainTokenAbi, VainContractClients>
  staking: GetContractReturnType<typeof stakingAbi, VainContractClients>
  reputation: GetContractReturnType<typeof reputationAbi, VainContractClients>
  registry: GetContractReturnType<typeof nodeRegistryAbi, VainContractClients>
  roundManager: GetContractReturnType<typeof roundManagerAbi, VainContractClients>
  governance: GetContractReturnType<typeof governanceAbi, VainContractClients>
}

function contractsOf(ctx: Ctx, addresses: VainAddresses): VainContracts {
  // without a wallet, `write` is absent at run time; reads and events work the same
  const client = { public: ctx.publicClient, wallet: ctx.walletClient } as VainContractClients
  return {
    token: getContract({ address: addresses.token, abi: vainTokenAbi, client }),
    staking: getContract({ address: addresses.staking, abi: stakingAbi, client }),
    reputation: getContract({ address: addresses.reputation, abi: reputationAbi, client }),
    registry: getContract({ address: addresses.registry, abi: nodeRegistryAbi, client }),
    roundManager: getContract({ address: addresses.roundManager, abi: roundManagerAbi, client }),
    governance: getContract({ address: addresses.governance, abi: governanceAbi, client }),
  }
}

/** Names of proposal states, indexed by the contract's enum. */
export const PROPOSAL_STATES = [
  'none',
  'active',
  'defeated',
  'succeeded',
  'queued',
  'executed',
  'canceled',
  'expired',
] as const
export type ProposalState = (typeof PROPOSAL_STATES)[number]

/** Names of round statuses, indexed by the contract's enum. */
export const ROUND_STATUSES = ['none', 'open', 'settled', 'cancelled'] as const
export type RoundStatus = (typeof ROUND_STATUSES)[number]

/** A node's standing on chain: what eligibility for a role is decided from. */
export interface NodeStanding {
  address: Address
  /** Active stake (pending unstakes excluded). */
  staked: bigint
  /** Stake waiting out its cooldown. */
  pending: bigint
  /** Unix seconds at which the pending stake unlocks (0 if none). */
  unlockAt: bigint
  /** Reputation after decay. */
  reputation: bigint
  /** 0 (none), 1, 2 or 3. */
  tier: number
  /** Minimum stake of tiers 1, 2, 3. */
  minStake: readonly [bigint, bigint, bigint]
  /** Minimum reputation of tiers 1, 2, 3. */
  minReputation: readonly [bigint, bigint, bigint]
  registered: boolean
  peerId: string | undefined
}

/** One call of a governance proposal. */
export interface ProposalAction {
  target: Address
  /** ABI-encoded calldata (`encodeFunctionData`). */
  data: Hex
}

/**
 * Builds typed clients for every contract of a deployed suite.
 *
 * @example
 * ```ts
 * const vain = createVainClient({ publicClient, walletClient, addresses })
 * const { tier } = await vain.standing(walletClient.account.address)
 * ```
 */
export function createVainClient(init: VainClientInit): VainClient {
  const ctx: Ctx = {
    publicClient: init.publicClient,
    walletClient: init.walletClient,
    retry: init.retry ?? { attempts: 3 },
  }
  const addresses = init.addresses
  const contracts = contractsOf(ctx, addresses)
  const account = init.walletClient?.account.address
  const self = (): Address => {
    if (account === undefined) throw new NoWalletError()
    return account
  }

  const token: TokenClient = {
    address: addresses.token,
    contract: contracts.token,
    balanceOf: (who: Address = self()) => read(ctx, () => contracts.token.read.balanceOf([who])),
    allowance: (owner: Address, spender: Address) => read(ctx, () => contracts.token.read.allowance([owner, spender])),
    transfer: (to: Address, amount: bigint) =>
      send(ctx, { address: addresses.token, abi: vainTokenAbi, functionName: 'transfer', args: [to, amount] }),
    approve: (spender: Address, amount: bigint) =>
      send(ctx, { address: addresses.token, abi: vainTokenAbi, functionName: 'approve', args: [spender, amount] }),
    /** Signs an EIP-2612 permit for `spender` valid until `deadline` (unix seconds). */
    async signPermit(spender: Address, amount: bigint, deadline: bigint) {
      const wallet = ctx.walletClient
      if (wallet === undefined) throw new NoWalletError()
      const [name, nonce, chainId] = await Promise.all([
        read(ctx, () => contracts.token.read.name()),
        read(ctx, () => contracts.token.read.nonces([wallet.account.address])),
        read(ctx, () => ctx.publicClient.getChainId()),
      ])
      const signature = await wallet.signTypedData({
        account: wallet.account,
        domain: { name, version: '1', chainId, verifyingContract: addresses.token },
        types: {
          Permit: [
            { name: 'owner', type: 'address' },
            { name: 'spender', type: 'address' },
            { name: 'value', type: 'uint256' },
            { name: 'nonce', type: 'uint256' },
            { name: 'deadline', type: 'uint256' },
          ],
        },
        primaryType: 'Permit',
        message: { owner: wallet.account.address, spender, value: amount, nonce, deadline },
      })
      return parseSignature(signature)
    },
  }

  /** Approves `amount` for `spender` unless the allowance already covers it. */
  async function ensureAllowance(spender: Address, amount: bigint) {
    if (amount === 0n) return
    const current = await token.allowance(self(), spender)
    if (current < amount) await token.approve(spender, amount)
  }

  const staking: StakingClient = {
    address: addresses.staking,
    contract: contracts.staking,
    /**
     * Stakes `amount`: one transaction with an EIP-2612 permit (default), or approve + stake
     * when `usePermit` is false (wallets that cannot sign typed data).
     */
    async stake(amount: bigint, options: { usePermit?: boolean } = {}) {
      if (options.usePermit === false) {
        await ensureAllowance(addresses.staking, amount)
        return send(ctx, { address: addresses.staking, abi: stakingAbi, functionName: 'stake', args: [amount] })
      }
      const block = await read(ctx, () => ctx.publicClient.getBlock())
      const deadline = block.timestamp + 3600n
      const { v, r, s, yParity } = await token.signPermit(addresses.staking, amount, deadline)
      const vNum = v === undefined ? 27 + yParity : Number(v)
      return send(ctx, {
        address: addresses.staking,
        abi: stakingAbi,
        functionName: 'stakeWithPermit',
        args: [amount, deadline, vNum, r, s],
      })
    },
    /** Starts the cooldown for `amount` of active stake. */
    requestUnstake: (amount: bigint) =>
      send(ctx, { address: addresses.staking, abi: stakingAbi, functionName: 'requestUnstake', args: [amount] }),
    /** Withdraws the pending stake; throws {@link CooldownActiveError} before it unlocks. */
    withdraw: () => send(ctx, { address: addresses.staking, abi: stakingAbi, functionName: 'withdraw', args: [] }),
    stakeOf: (who: Address = self()) => read(ctx, () => contracts.staking.read.stakeOf([who])),
    accountOf: (who: Address = self()) => read(ctx, () => contracts.staking.read.accountOf([who])),
    minStakes: () => read(ctx, () => contracts.staking.read.minStakes()),
    cooldown: () => read(ctx, () => contracts.staking.read.cooldown()),
    totals: async () => ({
      staked: await read(ctx, () => contracts.staking.read.totalStaked()),
      pending: await read(ctx, () => contracts.staking.read.totalPending()),
    }),
  }

  const reputation: ReputationClient = {
    address: addresses.reputation,
    contract: contracts.reputation,
    reputationOf: (who: Address = self()) => read(ctx, () => contracts.reputation.read.reputationOf([who])),
    /** 0 (none), 1, 2 or 3. */
    tierOf: async (who: Address = self()) => Number(await read(ctx, () => contracts.reputation.read.tierOf([who]))),
    minReputations: async () =>
      (await Promise.all(
        ([1, 2, 3] as const).map((t) => read(ctx, () => contracts.reputation.read.minReputation([t]))),
      )) as unknown as readonly [bigint, bigint, bigint],
  }

  /** `key`'s signature binding its peer id to the wallet's address on this chain and registry. */
  async function bindingProof(key: PeerKeySigner) {
    const chainId = await read(ctx, () => ctx.publicClient.getChainId())
    return signPeerIdBinding(key, { chainId, registry: addresses.registry, node: self() })
  }

  const registry: RegistryClient = {
    address: addresses.registry,
    contract: contracts.registry,
    /** Binds the wallet's address to `key`'s peer id, proven by `key`; throws {@link StakeTooLowError} below the tier-1 stake. */
    register: async (key: PeerKeySigner) => {
      const { peerId, proof } = await bindingProof(key)
      return send(ctx, {
        address: addresses.registry,
        abi: nodeRegistryAbi,
        functionName: 'register',
        args: [peerId, proof],
      })
    },
    /** Replaces the wallet's peer id by `key`'s (a key rotation), proven by `key`. */
    updatePeerId: async (key: PeerKeySigner) => {
      const { peerId, proof } = await bindingProof(key)
      return send(ctx, {
        address: addresses.registry,
        abi: nodeRegistryAbi,
        functionName: 'updatePeerId',
        args: [peerId, proof],
      })
    },
    bindingProof: (key: PeerKeySigner) => bindingProof(key),
    deregister: () =>
      send(ctx, { address: addresses.registry, abi: nodeRegistryAbi, functionName: 'deregister', args: [] }),
    /** The peer id bound to `who`, or `undefined`. */
    peerIdOf: async (who: Address = self()) => {
      const id = await read(ctx, () => contracts.registry.read.peerIdOf([who]))
      return id === '' ? undefined : id
    },
    /** The address bound to `peerId`, or `undefined`. */
    nodeOf: async (peerId: string) => {
      const node = await read(ctx, () => contracts.registry.read.nodeOf([peerId]))
      return /^0x0{40}$/i.test(node) ? undefined : node
    },
    nodeCount: () => read(ctx, () => contracts.registry.read.nodeCount()),
  }

  const rounds: RoundsClient = {
    address: addresses.roundManager,
    contract: contracts.roundManager,
    /**
     * Opens a round (OPENER role), approving and funding `rewardPool`. `quorum` defaults to a
     * simple majority of the committee. Returns the new round id.
     */
    async open(params: {
      jobId: Hex
      committee: readonly Address[]
      quorum?: number
      /** Unix seconds. */
      deadline: bigint
      rewardPool: bigint
    }) {
      const quorum = params.quorum ?? Math.floor(params.committee.length / 2) + 1
      await ensureAllowance(addresses.roundManager, params.rewardPool)
      const tx = await send(ctx, {
        address: addresses.roundManager,
        abi: roundManagerAbi,
        functionName: 'openRound',
        args: [params.jobId, params.committee, quorum, params.deadline, params.rewardPool],
      })
      const opened = tx.events.find((e) => e.eventName === 'RoundOpened') as any
      return { ...tx, roundId: opened.args.roundId as bigint }
    },
    /** Signs `result` as a committee member (EIP-712). */
    async signResult(result: SettlementResult) {
      const wallet = ctx.walletClient
      if (wallet === undefined) throw new NoWalletError()
      const chainId = await read(ctx, () => ctx.publicClient.getChainId())
      return wallet.signTypedData({
        account: wallet.account,
        ...settlementResultTypedData(result, { chainId, roundManager: addresses.roundManager }),
      })
    },
    /** Settles `result` with committee signatures (any order; duplicates dropped). */
    async settle(result: SettlementResult, signatures: readonly Hex[]) {
      const chainId = await read(ctx, () => ctx.publicClient.getChainId())
      const ordered = await orderSignatures(result, signatures, { chainId, roundManager: addresses.roundManager })
      return send(ctx, {
        address: addresses.roundManager,
        abi: roundManagerAbi,
        functionName: 'settle',
        args: [result, ordered],
      })
    },
    /** Claims a reward with its proof (from {@link RewardTree.claimFor}); anyone may send it. */
    claim: (claim: RewardClaim) =>
      send(ctx, {
        address: addresses.roundManager,
        abi: roundManagerAbi,
        functionName: 'claim',
        args: [claim.roundId, claim.account, claim.amount, claim.reputationGain, claim.commitment, claim.proof],
      }),
    /** Slashes a committee member of a settled round who signed `signed`, a different result. */
    slashDissenter: (signed: SettlementResult, signature: Hex) =>
      send(ctx, {
        address: addresses.roundManager,
        abi: roundManagerAbi,
        functionName: 'slashDissenter',
        args: [signed, signature],
      }),
    cancelExpired: (roundId: bigint) =>
      send(ctx, {
        address: addresses.roundManager,
        abi: roundManagerAbi,
        functionName: 'cancelExpired',
        args: [roundId],
      }),
    async roundOf(roundId: bigint) {
      const r = await read(ctx, () => contracts.roundManager.read.roundOf([roundId]))
      return { ...r, status: ROUND_STATUSES[r.status] ?? 'none' }
    },
    isClaimed: (roundId: bigint, account: Address) =>
      read(ctx, () => contracts.roundManager.read.isClaimed([roundId, account])),
    roundCount: () => read(ctx, () => contracts.roundManager.read.roundCount()),
    committeeTier: async () => Number(await read(ctx, () => contracts.roundManager.read.committeeTier())),
  }

  const SUPPORT = { against: 0, for: 1, abstain: 2 } as const

  const governance: GovernanceClient = {
    address: addresses.governance,
    contract: contracts.governance,
    /** Proposes `actions`; returns the proposal id. Needs the proposal tier (default 2). */
    async propose(actions: readonly ProposalAction[], description: string) {
      if (actions.length === 0) throw new InvalidInputError('a proposal needs at least one action')
      const tx = await send(ctx, {
        address: addresses.governance,
        abi: governanceAbi,
        functionName: 'propose',
        args: [actions.map((a) => a.target), actions.map((a) => a.data), description],
      })
      const created = tx.events.find((e) => e.eventName === 'ProposalCreated') as any
      return { ...tx, proposalId: created.args.proposalId as bigint }
    },
    /** Votes with the wallet's stake × tier at the proposal's snapshot; once per proposal. */
    vote: (proposalId: bigint, support: keyof typeof SUPPORT) =>
      send(ctx, {
        address: addresses.governance,
        abi: governanceAbi,
        functionName: 'castVote',
        args: [proposalId, SUPPORT[support]],
      }),
    queue: (proposalId: bigint) =>
      send(ctx, { address: addresses.governance, abi: governanceAbi, functionName: 'queue', args: [proposalId] }),
    execute: (proposalId: bigint) =>
      send(ctx, { address: addresses.governance, abi: governanceAbi, functionName: 'execute', args: [proposalId] }),
    cancel: (proposalId: bigint) =>
      send(ctx, { address: addresses.governance, abi: governanceAbi, functionName: 'cancel', args: [proposalId] }),
    state: async (proposalId: bigint): Promise<ProposalState> =>
      PROPOSAL_STATES[await read(ctx, () => contracts.governance.read.state([proposalId]))] ?? 'none',
    proposalOf: (proposalId: bigint) => read(ctx, () => contracts.governance.read.proposalOf([proposalId])),
    hasVoted: (proposalId: bigint, voter: Address = self()) =>
      read(ctx, () => contracts.governance.read.hasVoted([proposalId, voter])),
    async votingPower(proposalId: bigint, voter: Address = self()) {
      const { snapshot } = await read(ctx, () => contracts.governance.read.proposalOf([proposalId]))
      return read(ctx, () => contracts.governance.read.votingPowerAt([voter, snapshot]))
    },
  }

  /** Everything eligibility is decided from, for `who`, read in parallel. */
  async function standing(who: Address = self()): Promise<NodeStanding> {
    const [account_, rep, tier, minStake, minReputation, peerId] = await Promise.all([
      staking.accountOf(who),
      reputation.reputationOf(who),
      reputation.tierOf(who),
      staking.minStakes(),
      reputation.minReputations(),
      registry.peerIdOf(who),
    ])
    return {
      address: who,
      staked: account_.staked,
      pending: account_.pending,
      unlockAt: account_.unlockAt,
      reputation: rep,
      tier,
      minStake: minStake as readonly [bigint, bigint, bigint],
      minReputation,
      registered: peerId !== undefined,
      peerId,
    }
  }

  return {
    addresses,
    account,
    publicClient: ctx.publicClient,
    walletClient: ctx.walletClient,
    contracts,
    token,
    staking,
    reputation,
    registry,
    rounds,
    governance,
    standing,
  }
}

type Tx = Promise<TxResult>
/** The on-chain shape of a round (`RoundManager.roundOf`), with a named status. */
export interface RoundInfo {
  jobId: Hex
  funder: Address
  deadline: bigint
  quorum: number
  committeeSize: number
  status: RoundStatus
  rewardPool: bigint
  resultDigest: Hex
  modelHash: Hex
  rewardsRoot: Hex
  totalReward: bigint
  claimed: bigint
  /** Leaves of the settled result: the most claims the round pays. */
  contributions: number
  /** Claims paid so far. */
  claims: number
  /** The most reputation one claim adds (the governor's cap when the round was opened). */
  maxReputationGain: bigint
  /** What each committee member whose signature settled the round gains (fixed when it was opened). */
  committeeReputationGain: bigint
}

/** Token client. */
export interface TokenClient {
  address: Address
  contract: VainContracts['token']
  balanceOf(who?: Address): Promise<bigint>
  allowance(owner: Address, spender: Address): Promise<bigint>
  transfer(to: Address, amount: bigint): Tx
  approve(spender: Address, amount: bigint): Tx
  /** Signs an EIP-2612 permit for `spender` valid until `deadline` (unix seconds). */
  signPermit(
    spender: Address,
    amount: bigint,
    deadline: bigint,
  ): Promise<{ r: Hex; s: Hex; v?: bigint | undefined; yParity: number }>
}

/** Staking client. */
export interface StakingClient {
  address: Address
  contract: VainContracts['staking']
  /** Stakes with a permit (one transaction), or approve + stake when `usePermit` is false. */
  stake(amount: bigint, options?: { usePermit?: boolean }): Tx
  /** Starts the cooldown for `amount` of active stake; throws {@link InsufficientStakeError}. */
  requestUnstake(amount: bigint): Tx
  /** Withdraws the pending stake; throws {@link CooldownActiveError} before it unlocks. */
  withdraw(): Tx
  stakeOf(who?: Address): Promise<bigint>
  accountOf(who?: Address): Promise<{ staked: bigint; pending: bigint; unlockAt: bigint }>
  minStakes(): Promise<readonly [bigint, bigint, bigint]>
  cooldown(): Promise<bigint>
  totals(): Promise<{ staked: bigint; pending: bigint }>
}

/** Reputation client. */
export interface ReputationClient {
  address: Address
  contract: VainContracts['reputation']
  reputationOf(who?: Address): Promise<bigint>
  /** 0 (none), 1, 2 or 3. */
  tierOf(who?: Address): Promise<number>
  minReputations(): Promise<readonly [bigint, bigint, bigint]>
}

/** Node registry client. */
export interface RegistryClient {
  address: Address
  contract: VainContracts['registry']
  /**
   * Binds the wallet's address to `key`'s peer id: `key` (a libp2p secp256k1 `PrivateKey`) signs
   * the binding, the registry checks it. Throws {@link StakeTooLowError} below the tier-1 stake,
   * {@link UnsupportedPeerKeyError} for a key that is not secp256k1.
   */
  register(key: PeerKeySigner): Tx
  /** Replaces the wallet's peer id by `key`'s (a key rotation), proven by `key`. */
  updatePeerId(key: PeerKeySigner): Tx
  /** The peer id of `key` and its proof binding it to the wallet's address (what `register` sends). */
  bindingProof(key: PeerKeySigner): Promise<{ peerId: string; proof: PeerKeyProof }>
  deregister(): Tx
  peerIdOf(who?: Address): Promise<string | undefined>
  nodeOf(peerId: string): Promise<Address | undefined>
  nodeCount(): Promise<bigint>
}

/** Rounds and rewards client. */
export interface RoundsClient {
  address: Address
  contract: VainContracts['roundManager']
  /** Opens a round (OPENER role), approving and funding the pool; quorum defaults to a majority. */
  open(params: {
    jobId: Hex
    committee: readonly Address[]
    quorum?: number
    /** Unix seconds. */
    deadline: bigint
    rewardPool: bigint
  }): Promise<TxResult & { roundId: bigint }>
  /** Signs `result` as a committee member (EIP-712). */
  signResult(result: SettlementResult): Promise<Hex>
  /** Settles with committee signatures in any order (sorted and deduplicated here). */
  settle(result: SettlementResult, signatures: readonly Hex[]): Tx
  /** Claims a reward with its proof; anyone may send it, the tokens go to the claim's account. */
  claim(claim: RewardClaim): Tx
  /** Slashes a committee member of a settled round who signed `signed`, a different result. */
  slashDissenter(signed: SettlementResult, signature: Hex): Tx
  cancelExpired(roundId: bigint): Tx
  roundOf(roundId: bigint): Promise<RoundInfo>
  isClaimed(roundId: bigint, account: Address): Promise<boolean>
  roundCount(): Promise<bigint>
  committeeTier(): Promise<number>
}

/** Governance client. */
export interface GovernanceClient {
  address: Address
  contract: VainContracts['governance']
  /** Proposes `actions`; needs the proposal tier. Returns the proposal id. */
  propose(actions: readonly ProposalAction[], description: string): Promise<TxResult & { proposalId: bigint }>
  /**
   * Votes with the wallet's weight: its stake times its tier (1/2/3), both as they were at the
   * proposal's snapshot (the second before it was made). Throws {@link AlreadyVotedError} the
   * second time, and `NoVotingPowerError` for a wallet with no stake or tier 0 then.
   */
  vote(proposalId: bigint, support: 'for' | 'against' | 'abstain'): Tx
  queue(proposalId: bigint): Tx
  /** Executes after the timelock; throws {@link TimelockActiveError} before. */
  execute(proposalId: bigint): Tx
  cancel(proposalId: bigint): Tx
  state(proposalId: bigint): Promise<ProposalState>
  /** A proposal; vote totals are in weight units (stake in wei × tier), like the quorum. */
  proposalOf(proposalId: bigint): Promise<{
    proposer: Address
    voteEnd: bigint
    /** Weights are read at the end of this second (unix seconds). */
    snapshot: bigint
    eta: bigint
    executed: boolean
    canceled: boolean
    forVotes: bigint
    againstVotes: bigint
    abstainVotes: bigint
  }>
  hasVoted(proposalId: bigint, voter?: Address): Promise<boolean>
  /** The weight `voter` (default: the wallet) votes with on the proposal: stake × tier at its snapshot. */
  votingPower(proposalId: bigint, voter?: Address): Promise<bigint>
}

/** The client {@link createVainClient} returns. */
export interface VainClient {
  addresses: VainAddresses
  /** The wallet's address, if there is a wallet. */
  account: Address | undefined
  publicClient: PublicClient
  walletClient: WalletClient<Transport, Chain | undefined, Account> | undefined
  /** Plain typed viem contracts. */
  contracts: VainContracts
  token: TokenClient
  staking: StakingClient
  reputation: ReputationClient
  registry: RegistryClient
  rounds: RoundsClient
  governance: GovernanceClient
  /** Everything eligibility is decided from, read in parallel (default: the wallet's address). */
  standing(who?: Address): Promise<NodeStanding>
}

/** Options of {@link connectVain}. */
export interface ConnectVainOptions {
  rpcUrl: string
  addresses: VainAddresses
  /** Signs transactions; without it the client is read-only. */
  privateKey?: Hex
  /** Defaults to a chain built from the endpoint's id. */
  chain?: Chain
  /** Applied to every request (default: 5 attempts, 200 ms → 5 s backoff). */
  retry?: RetryOptions
  /** How often receipts and blocks are polled (default 100 ms; a local chain can take less). */
  pollingIntervalMs?: number
}

/**
 * Connects to any JSON-RPC endpoint with a retrying HTTP transport and returns a
 * {@link VainClient} (with a wallet when `privateKey` is given).
 *
 * @example
 * ```ts
 * const vain = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: chain.accounts[1]!.privateKey })
 * ```
 */
export function connectVain(options: ConnectVainOptions): VainClient {
  const transport = retryingTransport(http(options.rpcUrl), options.retry ?? {})
  const chain = options.chain
  const publicClient = createPublicClient({
    transport,
    ...(chain === undefined ? {} : { chain }),
    pollingInterval: options.pollingIntervalMs ?? 100,
  })
  const walletClient =
    options.privateKey === undefined
      ? undefined
      : createWalletClient({
          transport,
          account: privateKeyToAccount(options.privateKey),
          ...(chain === undefined ? {} : { chain }),
        })
  // retries already happen in the transport
  return createVainClient({
    publicClient: publicClient as PublicClient,
    walletClient,
    addresses: options.addresses,
    retry: { attempts: 1 },
  })
}
