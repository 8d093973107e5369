/**
 * Follows the RoundManager's and NodeRegistry's events by polling `eth_getLogs` (any JSON-RPC
 * endpoint, no subscriptions needed): rounds opened, settled, rewards claimed, dissenters slashed,
 * and peer-id registrations. Keeps what settlement needs in memory and lets callers wait for a
 * round to be opened or settled. A chain that is down pauses the watcher, which reports the
 * outage and the recovery, and catches up from the last block it read.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { allVainAbis } from '@vain/chain'
import { type Address, getAddress, type Hex, parseEventLogs } from 'viem'
import type { Logger } from '../logger.js'
import { isChainDown, type NodeChain } from './connect.js'

/** A round opened on chain (`RoundOpened`). */
export interface OpenedRound {
  roundId: bigint
  /** The round key: `roundKey(jobId, round, attempt)`. */
  key: Hex
  committee: Address[]
  quorum: number
  deadline: bigint
  rewardPool: bigint
}

/** A round settled on chain (`RoundSettled`). */
export interface SettledRound {
  roundId: bigint
  modelHash: Hex
  rewardsRoot: Hex
  totalReward: bigint
  contributions: number
  signers: number
}

/** A reward claimed on chain (`RewardClaimed`). */
export interface ClaimedReward {
  roundId: bigint
  account: Address
  amount: bigint
  reputationGain: bigint
}

/** What the watcher reports. */
export interface WatcherHandlers {
  opened?(round: OpenedRound): void
  settled?(round: SettledRound): void
  claimed?(reward: ClaimedReward): void
  slashed?(e: { roundId: bigint; member: Address; slashed: bigint }): void
  registered?(address: Address, peerId: string | undefined): void
  down?(error: unknown): void
  up?(): void
}

type Waiter<T> = { match: (value: T) => boolean; resolve: (value: T | undefined) => void }

/** Polls the chain's events; see the module docs. */
export class ChainWatcher {
  private readonly chain: NodeChain
  private readonly log: Logger
  private readonly pollMs: number
  private readonly handlers: WatcherHandlers
  private next: bigint
  private readonly openedByKey = new Map<Hex, OpenedRound[]>()
  private readonly openedById = new Map<bigint, OpenedRound>()
  private readonly settledById = new Map<bigint, SettledRound>()
  private readonly openWaiters = new Set<Waiter<OpenedRound>>()
  private readonly settleWaiters = new Set<Waiter<SettledRound>>()
  private abort: AbortController | undefined
  private loop: Promise<void> | undefined
  private isDown = false
  private synced: Promise<void>
  private markSynced: () => void = () => {}

  constructor(
    chain: NodeChain,
    options: { log: Logger; pollMs: number; fromBlock?: bigint; handlers?: WatcherHandlers },
  ) {
    this.chain = chain
    this.log = options.log
    this.pollMs = options.pollMs
    this.next = options.fromBlock ?? 0n
    this.handlers = options.handlers ?? {}
    this.synced = new Promise((resolve) => {
      this.markSynced = resolve
    })
  }

  /** Whether the last poll failed because the chain was unreachable. */
  get down(): boolean {
    return this.isDown
  }

  /** Resolves after the first successful poll (the past events are known). */
  whenSynced(): Promise<void> {
    return this.synced
  }

  /** Polls every `pollMs` until {@link ChainWatcher.stop}. */
  start(): void {
    if (this.loop !== undefined) return
    this.abort = new AbortController()
    const signal = this.abort.signal
    this.loop = (async () => {
      while (!signal.aborted) {
        await this.poll()
        try {
          await sleep(this.pollMs, undefined, { signal })
        } catch {
          break
        }
      }
    })()
  }

  /** Stops polling; pending waits resolve with `undefined`. */
  async stop(): Promise<void> {
    this.abort?.abort()
    await this.loop
    this.loop = undefined
    for (const w of this.openWaiters) w.resolve(undefined)
    for (const w of this.settleWaiters) w.resolve(undefined)
    this.openWaiters.clear()
    this.settleWaiters.clear()
  }

  /** One poll: new events since the last block read. */
  async poll(): Promise<void> {
    const { publicClient, addresses } = this.chain.vain
    try {
      const latest = await publicClient.getBlockNumber()
      // in ranges of at most 5,000 blocks (what public endpoints accept)
      while (latest >= this.next) {
        const to = this.next + 4_999n < latest ? this.next + 4_999n : latest
        const logs = await publicClient.getLogs({
          address: [addresses.roundManager, addresses.registry],
          fromBlock: this.next,
          toBlock: to,
        })
        for (const e of parseEventLogs({ abi: allVainAbis, logs })) this.handle(e as { eventName: string; args: any })
        this.next = to + 1n
      }
      this.markSynced()
      if (this.isDown) {
        this.isDown = false
        this.log.info('chain reachable again', { rpc: this.chain.rpcUrl })
        this.handlers.up?.()
      }
    } catch (err) {
      if (this.abort?.signal.aborted === true) return
      if (isChainDown(err)) {
        if (!this.isDown) {
          this.isDown = true
          this.log.warn('chain unreachable: settlement paused, still retrying', {
            rpc: this.chain.rpcUrl,
            error: (err as Error).name,
          })
          this.handlers.down?.(err)
        }
      } else this.log.warn('reading chain events failed', { error: (err as Error).message.split('\n')[0] })
    }
  }

  private handle(e: { eventName: string; args: any }): void {
    const a = e.args
    switch (e.eventName) {
      case 'RoundOpened': {
        const round: OpenedRound = {
          roundId: a.roundId,
          key: a.jobId,
          committee: (a.committee as Address[]).map((x) => getAddress(x)),
          quorum: Number(a.quorum),
          deadline: BigInt(a.deadline),
          rewardPool: a.rewardPool,
        }
        this.openedById.set(round.roundId, round)
        this.openedByKey.set(round.key, [...(this.openedByKey.get(round.key) ?? []), round])
        for (const w of this.openWaiters) if (w.match(round)) w.resolve(round)
        this.handlers.opened?.(round)
        break
      }
      case 'RoundSettled': {
        const round: SettledRound = {
          roundId: a.roundId,
          modelHash: a.modelHash,
          rewardsRoot: a.rewardsRoot,
          totalReward: a.totalReward,
          contributions: Number(a.contributions),
          signers: Number(a.signers),
        }
        this.settledById.set(round.roundId, round)
        for (const w of this.settleWaiters) if (w.match(round)) w.resolve(round)
        this.handlers.settled?.(round)
        break
      }
      case 'RewardClaimed':
        this.handlers.claimed?.({
          roundId: a.roundId,
          account: getAddress(a.account),
          amount: a.amount,
          reputationGain: a.reputationGain,
        })
        break
      case 'DissenterSlashed':
        this.handlers.slashed?.({ roundId: a.roundId, member: getAddress(a.member), slashed: a.slashed })
        break
      case 'NodeRegistered':
        this.handlers.registered?.(getAddress(a.node), a.peerId)
        break
      case 'PeerIdChanged':
        this.handlers.registered?.(getAddress(a.node), a.newPeerId)
        break
      case 'NodeDeregistered':
        this.handlers.registered?.(getAddress(a.node), undefined)
        break
    }
  }

  /** The round opened with `roundId`, if seen. */
  opened(roundId: bigint): OpenedRound | undefined {
    return this.openedById.get(roundId)
  }

  /** The round settled with `roundId`, if seen. */
  settled(roundId: bigint): SettledRound | undefined {
    return this.settledById.get(roundId)
  }

  /** Waits for the latest round opened with `key` (`undefined` after `timeoutMs` or on stop). */
  waitOpened(key: Hex, timeoutMs: number): Promise<OpenedRound | undefined> {
    const known = this.openedByKey.get(key)
    if (known !== undefined && known.length > 0) return Promise.resolve(known.at(-1))
    return this.wait(this.openWaiters, (r) => r.key === key, timeoutMs)
  }

  /** Waits for a round settled with the model `modelHash`. */
  waitSettledModel(modelHash: Hex, timeoutMs: number): Promise<SettledRound | undefined> {
    const m = modelHash.toLowerCase()
    for (const r of this.settledById.values()) if (r.modelHash.toLowerCase() === m) return Promise.resolve(r)
    return this.wait(this.settleWaiters, (r) => r.modelHash.toLowerCase() === m, timeoutMs)
  }

  private wait<T>(set: Set<Waiter<T>>, match: (v: T) => boolean, timeoutMs: number): Promise<T | undefined> {
    if (this.abort?.signal.aborted !== false && this.loop === undefined) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const waiter: Waiter<T> = {
        match,
        resolve: (v) => {
          clearTimeout(timer)
          set.delete(waiter)
          resolve(v)
        },
      }
      const timer = setTimeout(() => waiter.resolve(undefined), timeoutMs)
      set.add(waiter)
    })
  }
}
