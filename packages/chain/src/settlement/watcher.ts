/**
 * Follows the RoundManager's and NodeRegistry's events by polling `eth_getLogs` (any JSON-RPC
 * endpoint, no subscriptions needed): rounds opened, settled, cancelled (refunded), rewards
 * claimed, dissenters slashed, and peer-id registrations. Keeps what settlement needs in memory and lets callers wait for a
 * round to be opened or settled. A chain that is down pauses the watcher, which reports the
 * outage and the recovery, and catches up from the last block it read.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Address, getAddress, type Hex, parseEventLogs } from 'viem'
import { allVainAbis } from '../abi-all.js'
import type { VainClient } from '../client.js'
import { findUnavailable } from '../retry.js'
import type { SettlementLogger } from './ports.js'

/** A round opened on chain (`RoundOpened`).
 *
 * @example
 * ```ts
 * watcher.opened(roundId)?.committee // the members' addresses
 * ```
 */
export interface OpenedRound {
  roundId: bigint
  /** The round key: `roundKey(jobId, round, attempt)`. */
  key: Hex
  committee: Address[]
  quorum: number
  deadline: bigint
  rewardPool: bigint
  /** The most reputation one claim of the round may add (its on-chain cap). */
  maxReputationGain: bigint
}

/** A round cancelled on chain after its deadline, its pool refunded to its funder (`RoundCancelled`).
 *
 * @example
 * ```ts
 * settlement.addEventListener('round:refunded', (e) => console.log(e.detail.roundId, e.detail.refund))
 * ```
 */
export interface CancelledRound {
  roundId: bigint
  refund: bigint
}

/** A round settled on chain (`RoundSettled`).
 *
 * @example
 * ```ts
 * const settled = await watcher.waitSettledModel(modelHashOf(model), 120_000)
 * ```
 */
export interface SettledRound {
  roundId: bigint
  modelHash: Hex
  rewardsRoot: Hex
  totalReward: bigint
  contributions: number
  signers: number
}

/** A reward claimed on chain (`RewardClaimed`).
 *
 * @example
 * ```ts
 * settlement.addEventListener('reward:claimed', (e) => console.log(e.detail.amount))
 * ```
 */
export interface ClaimedReward {
  roundId: bigint
  account: Address
  amount: bigint
  reputationGain: bigint
}

/** A committee member slashed on chain for a proven dissent (`DissenterSlashed`).
 *
 * @example
 * ```ts
 * settlement.addEventListener('dissenter:slashed', (e) => console.log(e.detail.member, e.detail.slashed))
 * ```
 */
export interface SlashedDissenter {
  roundId: bigint
  member: Address
  slashed: bigint
}

/** What the watcher reports, as it reads events.
 *
 * @example
 * ```ts
 * const handlers: WatcherHandlers = { settled: (r) => console.log(r.roundId), down: () => console.warn('chain down') }
 * ```
 */
export interface WatcherHandlers {
  opened?(round: OpenedRound): void
  settled?(round: SettledRound): void
  claimed?(reward: ClaimedReward): void
  cancelled?(round: CancelledRound): void
  slashed?(e: SlashedDissenter): void
  registered?(address: Address, peerId: string | undefined): void
  down?(error: unknown): void
  up?(): void
}

/** Options of {@link createChainWatcher}.
 *
 * @example
 * ```ts
 * const init: ChainWatcherInit = { log, pollMs: 500, fromBlock: deploymentBlock }
 * ```
 */
export interface ChainWatcherInit {
  log: SettlementLogger
  /** How often to poll (ms). */
  pollMs: number
  /** First block to read (the suite's deployment block; default 0). */
  fromBlock?: bigint
  /** Shown in logs. */
  rpcUrl?: string
  handlers?: WatcherHandlers
}

/** The chain's round events, polled (see {@link createChainWatcher}).
 *
 * @example
 * ```ts
 * const opened = await watcher.waitOpened(roundKey(jobId, round, attempt), 30_000)
 * ```
 */
export interface ChainWatcher {
  /** Whether the last poll failed because the chain was unreachable. */
  readonly down: boolean
  /** Resolves after the first successful poll (the past events are known). */
  whenSynced(): Promise<void>
  /** Polls every `pollMs` until {@link ChainWatcher.stop}. */
  start(): void
  /** Stops polling; pending waits resolve with `undefined`. */
  stop(): Promise<void>
  /** One poll: new events since the last block read. */
  poll(): Promise<void>
  /** The round opened with `roundId`, if seen. */
  opened(roundId: bigint): OpenedRound | undefined
  /** The round settled with `roundId`, if seen. */
  settled(roundId: bigint): SettledRound | undefined
  /** The round cancelled with `roundId`, if seen. */
  cancelled(roundId: bigint): CancelledRound | undefined
  /** Rounds seen opened and not (yet) seen settled or cancelled, the latest 4,096. */
  openRounds(): OpenedRound[]
  /** Waits for the latest round opened with `key` (`undefined` after `timeoutMs` or on stop). */
  waitOpened(key: Hex, timeoutMs: number): Promise<OpenedRound | undefined>
  /** Waits for a round settled with the model `modelHash` (`undefined` after `timeoutMs` or on stop). */
  waitSettledModel(modelHash: Hex, timeoutMs: number): Promise<SettledRound | undefined>
}

type Waiter<T> = { match: (value: T) => boolean; resolve: (value: T | undefined) => void }

/**
 * A watcher of the suite's round and registry events.
 *
 * @example
 * ```ts
 * const watcher = createChainWatcher(vain, { log, pollMs: 500, handlers: { settled: (r) => console.log(r.roundId) } })
 * watcher.start()
 * const opened = await watcher.waitOpened(roundKey(jobId, 0, 0), 30_000)
 * await watcher.stop()
 * ```
 */
export function createChainWatcher(
  vain: Pick<VainClient, 'publicClient' | 'addresses'>,
  init: ChainWatcherInit,
): ChainWatcher {
  const { log, pollMs } = init
  const handlers = init.handlers ?? {}
  const rpc = init.rpcUrl
  let next = init.fromBlock ?? 0n
  const openedByKey = new Map<Hex, OpenedRound[]>()
  const openedById = new Map<bigint, OpenedRound>()
  const settledById = new Map<bigint, SettledRound>()
  const cancelledById = new Map<bigint, CancelledRound>()
  /** Opened, neither settled nor cancelled (bounded: the oldest are forgotten first). */
  const stillOpen = new Map<bigint, OpenedRound>()
  const openWaiters = new Set<Waiter<OpenedRound>>()
  const settleWaiters = new Set<Waiter<SettledRound>>()
  let abort: AbortController | undefined
  let loop: Promise<void> | undefined
  let isDown = false
  let markSynced: () => void = () => {}
  const synced = new Promise<void>((resolve) => {
    markSynced = resolve
  })

  function handle(e: { eventName: string; args: any }): void {
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
          maxReputationGain: BigInt(a.maxReputationGain),
        }
        openedById.set(round.roundId, round)
        if (stillOpen.size >= 4_096) stillOpen.delete(stillOpen.keys().next().value as bigint)
        stillOpen.set(round.roundId, round)
        openedByKey.set(round.key, [...(openedByKey.get(round.key) ?? []), round])
        for (const w of openWaiters) if (w.match(round)) w.resolve(round)
        handlers.opened?.(round)
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
        settledById.set(round.roundId, round)
        stillOpen.delete(round.roundId)
        for (const w of settleWaiters) if (w.match(round)) w.resolve(round)
        handlers.settled?.(round)
        break
      }
      case 'RoundCancelled': {
        const round: CancelledRound = { roundId: a.roundId, refund: a.refund }
        cancelledById.set(round.roundId, round)
        stillOpen.delete(round.roundId)
        handlers.cancelled?.(round)
        break
      }
      case 'RewardClaimed':
        handlers.claimed?.({
          roundId: a.roundId,
          account: getAddress(a.account),
          amount: a.amount,
          reputationGain: a.reputationGain,
        })
        break
      case 'DissenterSlashed':
        handlers.slashed?.({ roundId: a.roundId, member: getAddress(a.member), slashed: a.slashed })
        break
      case 'NodeRegistered':
        handlers.registered?.(getAddress(a.node), a.peerId)
        break
      case 'PeerIdChanged':
        handlers.registered?.(getAddress(a.node), a.newPeerId)
        break
      case 'NodeDeregistered':
        handlers.registered?.(getAddress(a.node), undefined)
        break
    }
  }

  function wait<T>(set: Set<Waiter<T>>, match: (v: T) => boolean, timeoutMs: number): Promise<T | undefined> {
    if (abort?.signal.aborted !== false && loop === undefined) return Promise.resolve(undefined)
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

  const watcher: ChainWatcher = {
    get down() {
      return isDown
    },
    whenSynced: () => synced,
    start() {
      if (loop !== undefined) return
      abort = new AbortController()
      const signal = abort.signal
      loop = (async () => {
        while (!signal.aborted) {
          await watcher.poll()
          try {
            await sleep(pollMs, undefined, { signal })
          } catch {
            break
          }
        }
      })()
    },
    async stop() {
      abort?.abort()
      await loop
      loop = undefined
      for (const w of openWaiters) w.resolve(undefined)
      for (const w of settleWaiters) w.resolve(undefined)
      openWaiters.clear()
      settleWaiters.clear()
    },
    async poll() {
      const { publicClient, addresses } = vain
      try {
        const latest = await publicClient.getBlockNumber()
        // in ranges of at most 5,000 blocks (what public endpoints accept)
        while (latest >= next) {
          const to = next + 4_999n < latest ? next + 4_999n : latest
          const logs = await publicClient.getLogs({
            address: [addresses.roundManager, addresses.registry],
            fromBlock: next,
            toBlock: to,
          })
          for (const e of parseEventLogs({ abi: allVainAbis, logs })) handle(e as { eventName: string; args: any })
          next = to + 1n
        }
        markSynced()
        if (isDown) {
          isDown = false
          log.info('chain reachable again', { rpc })
          handlers.up?.()
        }
      } catch (err) {
        if (abort?.signal.aborted === true) return
        if (findUnavailable(err) !== undefined) {
          if (!isDown) {
            isDown = true
            log.warn('chain unreachable: settlement paused, still retrying', { rpc, error: (err as Error).name })
            handlers.down?.(err)
          }
        } else log.warn('reading chain events failed', { error: (err as Error).message.split('\n')[0] })
      }
    },
    opened: (roundId) => openedById.get(roundId),
    settled: (roundId) => settledById.get(roundId),
    cancelled: (roundId) => cancelledById.get(roundId),
    openRounds: () => [...stillOpen.values()],
    waitOpened(key, timeoutMs) {
      const known = openedByKey.get(key)
      if (known !== undefined && known.length > 0) return Promise.resolve(known.at(-1))
      return wait(openWaiters, (r) => r.key === key, timeoutMs)
    },
    waitSettledModel(modelHash, timeoutMs) {
      const m = modelHash.toLowerCase()
      for (const r of settledById.values()) if (r.modelHash.toLowerCase() === m) return Promise.resolve(r)
      return wait(settleWaiters, (r) => r.modelHash.toLowerCase() === m, timeoutMs)
    },
  }
  return watcher
}
