/**
 * A node's chain side, for nodes with a `chain` config section: the connection ({@link connectChain}),
 * this node's registration and standing (checked every 10 s, shown by `status()`, refusals logged
 * with the reason), and @vain/chain's settlement plugged in — the eligibility policy, opening,
 * voting, settling, claiming and slashing (`@vain/chain/settlement`) — with its votes gossiped on
 * `vain/settle/1`. A chain that is down never stops the node.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  checkEligibility,
  findUnavailable,
  formatVain,
  type NodeStanding,
  type PeerKeySigner,
  roleTiersWith,
  UnsupportedPeerKeyError,
  type VainAddresses,
} from '@vain/chain'
import {
  createSettlement,
  type Settlement,
  type SettlementEvents,
  type SettlementParticipant,
  SettleVoteSchema,
} from '@vain/chain/settlement'
import type { EligibilityPolicy } from '@vain/fl'
import { defineTopic, type NodeRole, type VainNode } from '@vain/net'
import { type Address, parseEther } from 'viem'
import type { ChainConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { connectChain, type NodeChain, resolvePrivateKey } from './connect.js'

/** Gossip topic of settlement votes. */
export const SETTLE_TOPIC = defineTopic({ name: 'vain/settle/1', schema: SettleVoteSchema, maxBytes: 4 * 1024 })

/** Verdict on one of this node's roles. */
export interface RoleStatus {
  eligible: boolean
  /** Why not (the typed error's message), when refused. */
  reason?: string
}

/** What `status()` reports (REST `/status`, tests). */
export interface ChainStatus {
  rpcUrl: string
  address: Address | undefined
  addresses: VainAddresses | undefined
  /** False while the chain is unreachable. */
  up: boolean
  /** This node's peer id as bound on chain, if registered. */
  registeredPeerId: string | undefined
  standing: { staked: string; pending: string; reputation: string; tier: number } | undefined
  roles: Partial<Record<NodeRole, RoleStatus>>
  /** Rounds this node settled, rewards it claimed. */
  settled: number
  claimed: { rounds: number; amount: string }
}

/** Events of {@link ChainService} (its settlement's), by their details. */
export type ChainServiceEvents = { [K in keyof SettlementEvents]: SettlementEvents[K]['detail'] }

/** Options of {@link ChainService}. */
export interface ChainServiceInit {
  config: ChainConfig
  node: VainNode
  log: Logger
  /** Roles this node's participant plays (its own eligibility is checked for these). */
  roles: { trainer: boolean; aggregator: boolean }
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0] as string

/**
 * A node's chain side (see the module docs): give its `policy` to the participant, then `start`.
 *
 * @example
 * ```ts
 * const chain = new ChainService({ config: config.chain, node, log, roles })
 * const participant = createParticipant({ ...components, policy: chain.policy })
 * await chain.start(participant)
 * chain.on('reward:claimed', (r) => console.log(r.account, r.amount))
 * ```
 */
export class ChainService {
  /** The settlement part (its events: `settlement.addEventListener('round:settled', …)`). */
  readonly settlement: Settlement
  /** The eligibility policy to give the participant (works before the chain is reachable). */
  readonly policy: EligibilityPolicy
  private readonly init: ChainServiceInit
  private readonly log: Logger
  private readonly abort = new AbortController()
  private readonly tasks = new Set<Promise<unknown>>()
  private resolveConnection: (chain: NodeChain | undefined) => void = () => {}
  private chain: NodeChain | undefined
  private readonly roleStatus: Partial<Record<NodeRole, RoleStatus>> = {}
  private standing: NodeStanding | undefined
  private registeredPeerId: string | undefined
  private reportedRegistration = ''
  private chainUp = true
  private readonly self: string

  constructor(init: ChainServiceInit) {
    this.init = init
    this.log = init.log
    this.self = init.node.peerId.toString()
    const cfg = init.config
    resolvePrivateKey(cfg) // a bad key is a configuration error: fail at start, not in the background
    const connection = new Promise<NodeChain | undefined>((resolve) => {
      this.resolveConnection = resolve
    })
    this.settlement = createSettlement({
      chain: connection,
      gossip: {
        publish: async (vote) => {
          await init.node.publish(SETTLE_TOPIC, vote)
        },
        subscribe: (handler) => init.node.subscribe(SETTLE_TOPIC, handler),
      },
      self: this.self,
      log: init.log,
      settle: cfg.settle,
      slashDissenters: cfg.slashDissenters,
      rewardPerRound: parseEther(cfg.rewardPerRound),
      ...(cfg.reputationPerContribution !== undefined
        ? { reputationPerContribution: BigInt(cfg.reputationPerContribution) }
        : {}),
      ...(cfg.roundDeadlineSeconds !== undefined ? { roundDeadlineSeconds: cfg.roundDeadlineSeconds } : {}),
      roleTiers: roleTiersWith(cfg.roleTiers),
      pollMs: cfg.pollMs,
      fromBlock: BigInt(cfg.fromBlock),
      // a peer whose signed handshake names another chain address than the registry's is not eligible
      claimedAddressOf: (peerId) => init.node.descriptor(peerIdFromString(peerId))?.chainAddress,
    })
    this.settlement.addEventListener('chain:down', () => {
      this.chainUp = false
    })
    this.settlement.addEventListener('chain:up', () => {
      this.chainUp = true
    })
    this.policy = this.settlement.policy
  }

  /** The settlement's events by their details; returns a function that removes the listener. */
  on<K extends keyof ChainServiceEvents>(type: K, listener: (detail: ChainServiceEvents[K]) => void): () => void {
    const fn = (e: SettlementEvents[K]): void => listener(e.detail as ChainServiceEvents[K])
    this.settlement.addEventListener(type, fn)
    return () => this.settlement.removeEventListener(type, fn)
  }

  /** The connection, once made. */
  get connection(): NodeChain | undefined {
    return this.chain
  }

  private track<T>(p: Promise<T>): void {
    const t = p.catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.warn('chain task failed', { error: firstLine(err) })
    })
    this.tasks.add(t)
    void t.finally(() => this.tasks.delete(t))
  }

  /** Follows `participant` (settlement), and connects in the background: a chain that is down is retried. */
  async start(participant: SettlementParticipant): Promise<void> {
    await this.settlement.start(participant)
    this.track(this.connect())
  }

  /** Addresses given → no I/O yet; "deploy" → in the background, retried until it works. */
  private async connect(): Promise<void> {
    const cfg = this.init.config
    const signal = this.abort.signal
    try {
      const chain = await connectChain(cfg, {
        log: this.log,
        signal,
        deployAttempts: Number.POSITIVE_INFINITY,
        onRetry: () => {
          this.chainUp = false
        },
      })
      this.chain = chain
      this.resolveConnection(chain)
      await this.settlement.ready()
      this.log.info('chain connected', {
        rpc: cfg.rpcUrl,
        address: chain.address ?? '(read-only: no key)',
        registry: chain.addresses.registry,
      })
      await this.keepStanding()
    } catch (err) {
      this.resolveConnection(undefined)
      if (signal.aborted) return
      this.log.error('cannot use the chain', { error: (err as Error).name, message: firstLine(err) })
    }
  }

  /** Registers this node's peer id and checks its roles now, then every 10 s (logging changes). */
  private async keepStanding(): Promise<void> {
    const signal = this.abort.signal
    while (!signal.aborted) {
      try {
        await this.checkStanding()
      } catch (err) {
        if (signal.aborted) return
        if (findUnavailable(err) === undefined)
          this.log.warn('cannot check this node on chain', { error: firstLine(err) })
      }
      try {
        await sleep(10_000, undefined, { signal })
      } catch {
        return
      }
    }
  }

  /** Registers if needed and re-reads this node's standing and role verdicts. */
  async checkStanding(): Promise<void> {
    const chain = this.chain
    const directory = this.settlement.directory
    if (chain === undefined || directory === undefined || chain.address === undefined) return
    const address = chain.address
    directory.invalidate(address)
    const standing = await directory.standing(address)
    this.standing = standing
    this.registeredPeerId = standing.peerId
    this.chainUp = true
    if (this.init.config.register && standing.peerId !== this.self) {
      let message: string
      if (standing.staked < standing.minStake[0]) {
        message = `not registered on chain: node ${address} has ${formatVain(standing.staked)} staked but needs at least ${formatVain(standing.minStake[0])} to register its peer id (run: vain stake <amount>)`
      } else {
        try {
          const before = standing.peerId
          // the node's libp2p key signs the binding: the registry checks it (no one else can bind this peer id)
          const key = this.peerKey()
          await chain.serial(() =>
            before === undefined ? chain.vain.registry.register(key) : chain.vain.registry.updatePeerId(key),
          )
          this.registeredPeerId = this.self
          this.log.info('registered this peer id on chain', { address, peerId: this.self })
          message = ''
        } catch (err) {
          if (findUnavailable(err) !== undefined) throw err
          message = `cannot register this peer id on chain: ${firstLine(err)}`
        }
      }
      if (message !== '' && message !== this.reportedRegistration) this.log.warn(message)
      this.reportedRegistration = message
    }
    const roles: NodeRole[] = [
      ...(this.init.roles.trainer ? (['trainer'] as const) : []),
      ...(this.init.roles.aggregator ? (['aggregator'] as const) : []),
    ]
    const tiers = roleTiersWith(this.init.config.roleTiers)
    for (const role of roles) {
      // from this node's own standing (its address is known), then: can the others map its peer id?
      const v = checkEligibility(standing, role, tiers)
      const status: RoleStatus = !v.eligible
        ? { eligible: false, reason: v.error.message }
        : this.registeredPeerId !== this.self
          ? {
              eligible: false,
              reason: `this node's peer id is not registered on chain (other nodes cannot see its stake): ${this.reportedRegistration || 'registration pending'}`,
            }
          : { eligible: true }
      const before = this.roleStatus[role]
      this.roleStatus[role] = status
      if (before?.eligible === status.eligible && before.reason === status.reason) continue
      if (status.eligible) {
        this.log.info(`eligible as ${role} on chain`, { tier: standing.tier, staked: formatVain(standing.staked) })
      } else this.log.warn(`${role} role refused: ${status.reason}`)
    }
  }

  /**
   * Stake `amount` VAIN (a decimal string, e.g. `"100"` or `"2.5"`) from the node's account, then
   * re-read its standing (registering its peer id once it has enough). `POST /api/staking/stake`.
   *
   * @throws {ChainNotConnectedError} before the node has connected to its chain, or without a key
   */
  async stake(
    amount: string,
  ): Promise<{ action: 'stake'; amount: string; tx: string; staked?: string; tier?: number }> {
    const chain = this.chain
    if (chain === undefined || chain.address === undefined) {
      throw new ChainNotConnectedError('this node is not connected to its chain with an account yet')
    }
    const wei = parseEther(amount)
    const tx = await chain.serial(() => chain.vain.staking.stake(wei))
    await this.checkStanding().catch((err: unknown) =>
      this.log.warn('staked; cannot re-read the standing', { error: firstLine(err) }),
    )
    const s = this.standing
    return {
      action: 'stake',
      amount: formatVain(wei).replace(' VAIN', ''),
      tx: tx.hash,
      ...(s !== undefined ? { staked: formatVain(s.staked).replace(' VAIN', ''), tier: s.tier } : {}),
    }
  }

  /** This node's libp2p key as the registry's proof needs it: its public key, and signing with it. */
  private peerKey(): PeerKeySigner {
    const node = this.init.node
    const publicKey = node.peerId.publicKey
    if (publicKey === undefined || publicKey.type !== 'secp256k1') {
      throw new UnsupportedPeerKeyError(
        `this node's identity is ${publicKey?.type ?? node.peerId.type}: the NodeRegistry binds secp256k1 peer ids only (a node with a chain creates one; move the old identity.key out of the data directory to get one — the peer id changes)`,
      )
    }
    return { publicKey, sign: (data) => node.sign(data) }
  }

  /** This node's chain status. */
  status(): ChainStatus {
    const s = this.standing
    const stats = this.settlement.stats()
    return {
      rpcUrl: this.init.config.rpcUrl,
      address: this.chain?.address,
      addresses: this.chain?.addresses,
      up: this.chainUp && !this.settlement.down,
      registeredPeerId: this.registeredPeerId,
      standing:
        s === undefined
          ? undefined
          : {
              staked: formatVain(s.staked),
              pending: formatVain(s.pending),
              reputation: String(s.reputation),
              tier: s.tier,
            },
      roles: { ...this.roleStatus },
      settled: stats.settled,
      claimed: { rounds: stats.claimed.rounds, amount: formatVain(stats.claimed.amount) },
    }
  }

  /** Stops following the participant and the chain; waits for tasks in flight to end. */
  async stop(): Promise<void> {
    this.abort.abort()
    this.resolveConnection(undefined)
    await this.settlement.stop()
    await Promise.allSettled([...this.tasks])
  }
}

/** The node has no chain connection (yet) to send a transaction with. */
export class ChainNotConnectedError extends Error {
  static override name = 'ChainNotConnectedError'
  override name = 'ChainNotConnectedError'
}
