/**
 * `createBlobSharing(init)`: serve this node's blobs to peers, fetch blobs by CID from any peer
 * that provides them, and keep pinned blobs replicated on k peers, repairing when a replica
 * disappears. The network is injected (a {@link BlobNetwork}); the store works without it.
 * @module
 */
import { decodeCborBounded } from '@vain/net/wire'
import { encode } from 'cborg'
import { ExponentialBackoff, handleWhenResult, noJitterGenerator, retry } from 'cockatiel'
import { TypedEventEmitter } from 'main-event'
import { type BlobStore, BlobTooLargeError } from '../blobs/blob-store.js'
import { type CID, parseCid, sha256 } from '../blobs/cid.js'
import { BlobIncompleteError, BlobNotFoundError, InvalidArgumentError, ReplicationError } from '../errors.js'
import { assertInteger } from '../keys.js'
import type { Memory } from '../store/memory.js'
import type { Namespace } from '../store/namespace.js'
import { type FetchOptions, type FetchReport, type FetchTuning, fetchBlob } from './fetcher.js'
import type { BlobNetwork, BlobRequestHandlers, HoldState, ReplicateAnswer } from './port.js'

/** Options of {@link createBlobSharing}. */
export interface BlobSharingInit {
  /** The store whose blobs are shared (started). */
  memory: Memory
  /** The network port (e.g. `vainNetBlobNetwork(node)`). */
  network: BlobNetwork
  /** Chunk requests in flight per fetch. Default 8. */
  concurrency?: number
  /** Chunk requests in flight per provider. Default 4. */
  perProviderConcurrency?: number
  /** Deadline of one chunk or manifest request (ms). Default 30 000. */
  requestTimeoutMs?: number
  /** Transport failures after which a provider is dropped for a fetch. Default 3. */
  maxProviderFailures?: number
  /** How long a fetch looks for providers in the DHT (ms). Default 30 000. */
  discoveryTimeoutMs?: number
  /** Announce complete blobs as provider records (at start, and as they are added). Default true. */
  announce?: boolean
  /**
   * Whether to take replicas peers ask for: `true` (default), `false`, or a policy. Replicas
   * are pinned under the label `replica`.
   */
  acceptReplicas?: boolean | ((peer: string, cid: CID) => boolean)
  /**
   * Largest replica taken for a peer, in bytes: a larger blob is refused from its manifest,
   * before any chunk is fetched (`replica:failed` with `BlobTooLargeError`). Default 256 MiB.
   */
  maxReplicaBytes?: number
  /** Replica fetches for peers running at once; requests beyond it are declined (`busy`). Default 4. */
  maxConcurrentReplicas?: number
  /** How often replication targets are checked and repaired (ms). Default 30 000; 0 = only on `repair()`. */
  repairIntervalMs?: number
  /** How long `replicate` waits for peers to complete their copy (ms). Default 120 000. */
  replicaTimeoutMs?: number
  /**
   * Keep every blob pinned here (under a label other than `replica`) on this many peers; the
   * repair loop picks up newly pinned blobs. Default 0 (only what `replicate` was asked for).
   */
  replicatePinned?: number
}

/** Events of a {@link BlobSharing}. */
export interface BlobSharingEvents {
  /** A provider sent data that did not match its hash, or a malformed reply. */
  'provider:bad': CustomEvent<{ cid: CID; peer: string; reason: string }>
  /** A peer confirmed a complete replica. */
  'replica:added': CustomEvent<{ cid: CID; peer: string }>
  /** A replica holder stopped answering or lost the blob. */
  'replica:lost': CustomEvent<{ cid: CID; peer: string }>
  /** A replication target could not reach its factor in a repair pass. */
  'replica:short': CustomEvent<{ cid: CID; replicas: number; factor: number }>
  /** A fetch started on a peer's request (a replica) failed. */
  'replica:failed': CustomEvent<{ cid: CID; from: string; error: unknown }>
}

/** What a repair pass did. */
export interface RepairReport {
  targets: number
  /** Replicas found gone. */
  lost: number
  /** Replicas added. */
  added: number
  /** Targets still below their factor. */
  short: number
}

interface ReplicationTarget {
  factor: number
  holders: string[]
}

const REPLICA_PIN = 'replica'
const TARGETS_NAMESPACE = '_replication'
const EXPORTS_NAMESPACE = '_namespace-exports'
/**
 * Polls a peer asked for a replica while it does not hold it completely: 50 ms, doubling to 1 s
 * apart, for as long as the signal given to `execute` (the replica deadline) allows.
 */
const REPLICA_POLL = retry(
  handleWhenResult((held) => held !== true),
  {
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000, generator: noJitterGenerator }),
  },
)

/**
 * Blob sharing for one store on one network. Create with {@link createBlobSharing}.
 *
 * @example
 * ```ts
 * const sharing = createBlobSharing({ memory, network: vainNetBlobNetwork(node) })
 * await sharing.start()
 * const report = await sharing.fetch('bafyrei…')            // from any provider, verified
 * await sharing.replicate(report.cid, { factor: 2 })         // kept on 2 peers, repaired
 * ```
 */
export class BlobSharing extends TypedEventEmitter<BlobSharingEvents> {
  readonly network: BlobNetwork
  private readonly memory: Memory
  private readonly tuning: FetchTuning
  private readonly announce: boolean
  private readonly acceptReplicas: (peer: string, cid: CID) => boolean
  private readonly repairIntervalMs: number
  private readonly replicaTimeoutMs: number
  private readonly replicatePinned: number
  private readonly maxReplicaBytes: number
  private readonly maxConcurrentReplicas: number
  private replicaFetches = 0
  private readonly fetches = new Map<string, Promise<FetchReport>>()
  private readonly background = new Set<Promise<unknown>>()
  private stopController = new AbortController()
  private repairTimer: ReturnType<typeof setInterval> | undefined
  private repairing: Promise<RepairReport> | undefined
  private running = false
  private announcing: Promise<void> = Promise.resolve()
  private targetsNs: Namespace | undefined
  private exportsNs: Namespace | undefined
  private readonly onAdded = (evt: CustomEvent<{ cid: CID }>) => {
    if (this.announce) this.announceInBackground(evt.detail.cid)
  }

  /** @internal use {@link createBlobSharing} */
  constructor(init: BlobSharingInit) {
    super()
    if (init === null || typeof init !== 'object' || init.memory === undefined || init.network === undefined) {
      throw new InvalidArgumentError('createBlobSharing needs { memory, network }')
    }
    this.memory = init.memory
    this.network = init.network
    this.tuning = {
      concurrency: assertInteger('concurrency', init.concurrency ?? 8, 1, 256),
      perProviderConcurrency: assertInteger('perProviderConcurrency', init.perProviderConcurrency ?? 4, 1, 64),
      requestTimeoutMs: assertInteger('requestTimeoutMs', init.requestTimeoutMs ?? 30_000, 1, 3_600_000),
      maxProviderFailures: assertInteger('maxProviderFailures', init.maxProviderFailures ?? 3, 1, 1000),
      discoveryTimeoutMs: assertInteger('discoveryTimeoutMs', init.discoveryTimeoutMs ?? 30_000, 1, 3_600_000),
    }
    this.announce = init.announce ?? true
    const accept = init.acceptReplicas ?? true
    this.acceptReplicas = typeof accept === 'function' ? accept : () => accept
    this.repairIntervalMs = assertInteger('repairIntervalMs', init.repairIntervalMs ?? 30_000, 0, 24 * 3_600_000)
    this.replicaTimeoutMs = assertInteger('replicaTimeoutMs', init.replicaTimeoutMs ?? 120_000, 1, 24 * 3_600_000)
    this.replicatePinned = assertInteger('replicatePinned', init.replicatePinned ?? 0, 0, 64)
    this.maxReplicaBytes = assertInteger(
      'maxReplicaBytes',
      init.maxReplicaBytes ?? 256 * 1024 * 1024,
      0,
      Number.MAX_SAFE_INTEGER,
    )
    this.maxConcurrentReplicas = assertInteger('maxConcurrentReplicas', init.maxConcurrentReplicas ?? 4, 0, 1_024)
  }

  private get blobs(): BlobStore {
    return this.memory.blobs
  }

  private emit<K extends keyof BlobSharingEvents>(type: K, detail: BlobSharingEvents[K]['detail']): void {
    if (this.listenerCount(type) > 0) this.safeDispatchEvent(type, { detail } as any)
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    )
    this.background.add(settled)
    void settled.finally(() => this.background.delete(settled))
    return p
  }

  /** Serve peers, announce pinned blobs, start the repair loop. */
  async start(): Promise<void> {
    if (this.running) return
    this.stopController = new AbortController()
    this.targetsNs = this.memory.internalNamespace(TARGETS_NAMESPACE, { tiers: 'disk' })
    this.exportsNs = this.memory.internalNamespace(EXPORTS_NAMESPACE, { tiers: 'disk' })
    await this.network.serve(this.handlers())
    this.running = true
    this.blobs.addEventListener('blob:added', this.onAdded)
    if (this.announce) {
      for (const blob of this.blobs.list()) {
        if (blob.complete) this.announceInBackground(blob.cid)
      }
    }
    if (this.repairIntervalMs > 0) {
      this.repairTimer = setInterval(() => void this.repair().catch(() => {}), this.repairIntervalMs)
      this.repairTimer.unref?.()
    }
  }

  /** Stop serving, abort fetches and the repair loop; waits for them to wind down. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    if (this.repairTimer !== undefined) clearInterval(this.repairTimer)
    this.repairTimer = undefined
    this.stopController.abort(new Error('blob sharing stopped'))
    this.blobs.removeEventListener('blob:added', this.onAdded)
    await this.network.unserve().catch(() => {})
    await Promise.allSettled([...this.background, ...this.fetches.values(), this.repairing])
  }

  private requireRunning(): void {
    if (!this.running) throw new InvalidArgumentError('blob sharing is not started: call start() first')
  }

  /** Announce one CID after another (a store with many blobs must not flood the DHT at start). */
  private announceInBackground(cid: CID): void {
    const signal = this.stopController.signal
    this.announcing = this.announcing.then(async () => {
      if (signal.aborted) return
      await this.network.provide(cid, { signal }).catch(() => {
        // best effort: the DHT may have no peers yet; kad-dht re-provides what it stored
      })
    })
    this.track(this.announcing)
  }

  private handlers(): BlobRequestHandlers {
    return {
      manifest: (cid) => this.blobs.manifestBytes(cid),
      chunk: (cid, index) => {
        const manifest = this.blobs.manifest(cid)
        if (manifest === undefined || index >= manifest.chunks.length) return undefined
        try {
          return this.blobs.readChunk(cid, index, manifest)
        } catch (err) {
          const name = (err as Error)?.name
          if (name === 'BlobIncompleteError' || name === 'CorruptedChunkError') return undefined
          throw err
        }
      },
      holds: (cid): HoldState => {
        const pins = this.blobs.pins(cid)
        const manifest = this.blobs.manifest(cid)
        if (manifest === undefined) return { state: 'none', pinned: pins.length > 0 }
        return { state: this.blobs.has(cid) ? 'complete' : 'partial', pinned: pins.length > 0 }
      },
      replicate: (cid, from): ReplicateAnswer => {
        if (!this.running) return { accepted: false, reason: 'stopping' }
        if (!this.acceptReplicas(from, cid)) return { accepted: false, reason: 'not accepting replicas' }
        if (this.replicaFetches >= this.maxConcurrentReplicas) return { accepted: false, reason: 'busy' }
        this.replicaFetches++
        this.track(
          this.fetch(cid, { pin: REPLICA_PIN, providers: [from], maxBytes: this.maxReplicaBytes })
            .catch((error: unknown) => {
              this.emit('replica:failed', { cid, from, error })
              throw error
            })
            .finally(() => {
              this.replicaFetches--
            }),
        )
        return { accepted: true }
      },
    }
  }

  /**
   * Fetch a blob into the local store from the peers that provide it (DHT provider records,
   * plus `providers`), several chunks in parallel, each verified; a provider that lies is
   * dropped and its chunks fetched elsewhere. Resolves at once when the blob is already here.
   * Concurrent fetches of one CID share one transfer. A failed fetch keeps what it got: fetch
   * again to resume.
   *
   * @throws {InvalidCidError} for a bad CID
   * @throws {BlobUnavailableError} when no provider could deliver (part of) it
   * @throws {BlobTooLargeError} when `maxBytes` is given and the blob's manifest declares more
   * @example
   * ```ts
   * const { size, badProviders } = await sharing.fetch(cid, { pin: true })
   * ```
   */
  async fetch(cidInput: CID | string, options: FetchOptions = {}): Promise<FetchReport> {
    this.requireRunning()
    const cid = parseCid(cidInput, 'blob')
    for (const p of options.providers ?? []) {
      if (typeof p !== 'string' || p.length === 0) throw new InvalidArgumentError('providers must be peer id strings')
    }
    if (options.maxBytes !== undefined) assertInteger('maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER)
    if (this.blobs.has(cid)) {
      const manifest = this.blobs.manifest(cid)!
      if (options.maxBytes !== undefined && manifest.size > options.maxBytes) {
        throw new BlobTooLargeError(cid.toString(), manifest.size, options.maxBytes)
      }
      const pin = options.pin === true ? 'default' : options.pin === false ? undefined : options.pin
      if (pin !== undefined) await this.blobs.pin(cid, pin)
      return {
        cid,
        size: manifest.size,
        chunks: manifest.chunks.length,
        chunksFetched: 0,
        chunksReused: manifest.chunks.length,
        bytesFetched: 0,
        providers: {},
        badProviders: [],
      }
    }
    const key = cid.toString()
    const running = this.fetches.get(key)
    if (running !== undefined) {
      await running.catch(() => {})
      return this.fetch(cid, options)
    }
    const signal =
      options.signal === undefined
        ? this.stopController.signal
        : AbortSignal.any([options.signal, this.stopController.signal])
    const fetching = fetchBlob(this.blobs, this.network, cid, this.tuning, { ...options, signal }, (peer, reason) =>
      this.emit('provider:bad', { cid, peer, reason }),
    )
    this.fetches.set(key, fetching)
    try {
      return await fetching
    } finally {
      this.fetches.delete(key)
    }
  }

  /**
   * Announce that this node provides `cid` (stored completely here).
   *
   * @throws {BlobNotFoundError} when it is not stored completely here
   */
  async provide(cidInput: CID | string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.requireRunning()
    const cid = parseCid(cidInput, 'blob')
    if (!this.blobs.has(cid)) throw new BlobNotFoundError(cid.toString())
    await this.network.provide(cid, options)
  }

  /**
   * Keep `cid` on `factor` other peers: ask peers (closest to the CID first) to take a pinned
   * replica, wait until they hold it completely, and remember the target so the repair loop
   * replaces replicas that disappear.
   *
   * @throws {BlobNotFoundError} / {BlobIncompleteError} when the blob is not complete here
   * @throws {ReplicationError} when fewer than `factor` peers confirmed (the target is kept and repaired later)
   * @example
   * ```ts
   * const holders = await sharing.replicate(cid, { factor: 3 })
   * ```
   */
  async replicate(cidInput: CID | string, options: { factor: number; signal?: AbortSignal }): Promise<string[]> {
    this.requireRunning()
    const cid = parseCid(cidInput, 'blob')
    const factor = assertInteger('factor', options?.factor, 1, 64)
    const stat = this.blobs.stat(cid)
    if (stat === undefined) throw new BlobNotFoundError(cid.toString())
    if (!stat.complete) throw new BlobIncompleteError(cid.toString(), stat.missingChunks)
    const previous = this.target(cid)
    await this.saveTarget(cid, { factor, holders: previous?.holders ?? [] })
    const { holders } = await this.ensure(cid, factor, options.signal)
    if (holders.length < factor) throw new ReplicationError(cid.toString(), holders, factor)
    return holders
  }

  /**
   * Keep a namespace on `factor` peers: export it as a blob ({@link Memory.exportNamespace}),
   * replicate that blob, and retire the previous export of the namespace. Call it again after
   * changes; a peer restores it with `fetch(cid)` then `memory.importNamespace(name, cid)`.
   *
   * @throws the errors of {@link Memory.exportNamespace} and {@link BlobSharing.replicate}
   * @example
   * ```ts
   * const { cid, holders } = await sharing.replicateNamespace('round-state', { factor: 2 })
   * ```
   */
  async replicateNamespace(
    name: string,
    options: { factor: number; signal?: AbortSignal },
  ): Promise<{ cid: CID; holders: string[] }> {
    this.requireRunning()
    const label = `namespace:${name}`
    const { cid } = await this.memory.exportNamespace(name, { pin: label })
    const previous = this.exportsNs!.get(name)
    await this.exportsNs!.put(name, new TextEncoder().encode(cid.toString()))
    if (previous !== undefined) {
      const old = new TextDecoder().decode(previous)
      if (old !== cid.toString()) {
        await this.targetsNs!.delete(old)
        await this.blobs.unpin(old, label).catch(() => false)
      }
    }
    const holders = await this.replicate(cid, options)
    return { cid, holders }
  }

  /** Stop keeping `cid` replicated (replicas already placed stay where they are). */
  async unreplicate(cidInput: CID | string): Promise<void> {
    this.requireRunning()
    const cid = parseCid(cidInput, 'blob')
    await this.targetsNs!.delete(cid.toString())
  }

  /** Peers known to hold a replica of `cid` (as of the last check). */
  replicas(cidInput: CID | string): string[] {
    return this.target(parseCid(cidInput, 'blob'))?.holders ?? []
  }

  /** Check every replication target now and repair those below their factor. */
  async repair(): Promise<RepairReport> {
    this.requireRunning()
    if (this.repairing !== undefined) return this.repairing
    this.repairing = (async () => {
      const report: RepairReport = { targets: 0, lost: 0, added: 0, short: 0 }
      if (this.replicatePinned > 0) {
        for (const blob of this.blobs.list()) {
          if (!blob.complete || !blob.pins.some((label) => label !== REPLICA_PIN)) continue
          if (this.target(blob.cid) === undefined) {
            await this.saveTarget(blob.cid, { factor: this.replicatePinned, holders: [] })
          }
        }
      }
      for (const key of this.targetsNs!.keys()) {
        if (!this.running) break
        const target = this.target(parseCid(key, 'blob'))
        if (target === undefined) continue
        report.targets++
        const cid = parseCid(key, 'blob')
        if (!this.blobs.has(cid)) continue
        const result = await this.ensure(cid, target.factor, undefined)
        report.lost += result.lost
        report.added += result.added
        if (result.holders.length < target.factor) {
          report.short++
          this.emit('replica:short', { cid, replicas: result.holders.length, factor: target.factor })
        }
      }
      return report
    })()
    try {
      return await this.repairing
    } finally {
      this.repairing = undefined
    }
  }

  private target(cid: CID): ReplicationTarget | undefined {
    const bytes = this.targetsNs!.get(cid.toString())
    if (bytes === undefined) return undefined
    try {
      // a replication target nests 2 levels (the record, its holders)
      const raw = decodeCborBounded(bytes, 4) as ReplicationTarget
      if (Number.isInteger(raw.factor) && Array.isArray(raw.holders)) return raw
    } catch {}
    return undefined
  }

  private async saveTarget(cid: CID, target: ReplicationTarget): Promise<void> {
    await this.targetsNs!.put(cid.toString(), encode(target))
  }

  /** Confirm holders, replace lost ones, place new replicas until `factor` or no candidate is left. */
  private async ensure(
    cid: CID,
    factor: number,
    userSignal: AbortSignal | undefined,
  ): Promise<{ holders: string[]; lost: number; added: number }> {
    const signal =
      userSignal === undefined ? this.stopController.signal : AbortSignal.any([userSignal, this.stopController.signal])
    const known = this.target(cid)?.holders ?? []
    const holders: string[] = []
    let lost = 0
    let added = 0
    await Promise.all(
      known.map(async (peer) => {
        const state = await this.network
          .holds(peer, cid, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.tuning.requestTimeoutMs)]) })
          .catch(() => undefined)
        if (state?.state === 'complete') holders.push(peer)
        else {
          lost++
          this.emit('replica:lost', { cid, peer })
        }
      }),
    )
    const tried = new Set<string>([this.network.self, ...known])
    while (holders.length < factor && !signal.aborted) {
      const candidates = closestFirst(
        cid,
        this.network.peers().filter((p) => !tried.has(p)),
      ).slice(0, factor - holders.length)
      if (candidates.length === 0) break
      for (const p of candidates) tried.add(p)
      const confirmed = await Promise.all(candidates.map((peer) => this.placeReplica(peer, cid, signal)))
      candidates.forEach((peer, i) => {
        if (confirmed[i] === true) {
          holders.push(peer)
          added++
          this.emit('replica:added', { cid, peer })
        }
      })
    }
    if (this.running) await this.saveTarget(cid, { factor, holders: holders.sort() })
    return { holders, lost, added }
  }

  /** Ask `peer` for a replica and wait until it holds it completely (or the deadline). */
  private async placeReplica(peer: string, cid: CID, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + this.replicaTimeoutMs
    const callSignal = () => AbortSignal.any([signal, AbortSignal.timeout(this.tuning.requestTimeoutMs)])
    try {
      const answer = await this.network.requestReplica(peer, cid, { signal: callSignal() })
      if (!answer.accepted) return false
      // poll until the peer holds it completely, 50 ms doubling to 1 s apart, until the deadline
      const polling = AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, deadline - Date.now()))])
      return await REPLICA_POLL.execute(async () => {
        const state = await this.network.holds(peer, cid, { signal: callSignal() })
        return state.state === 'complete' && state.pinned
      }, polling)
    } catch {
      // unreachable or refused: try another peer
    }
    return false
  }
}

/**
 * Peers ordered by XOR distance between sha2-256(peer id) and the CID's digest (closest first):
 * the order in which replicas are placed, the same for every node.
 *
 * @example
 * ```ts
 * closestFirst(cid, sharing.network.peers()).slice(0, 3)
 * ```
 */
export function closestFirst(cid: CID, peers: string[]): string[] {
  const target = cid.multihash.digest
  const distance = (peer: string) => {
    const h = sha256(new TextEncoder().encode(peer))
    return Buffer.from(h.map((b, i) => b ^ (target[i] ?? 0)))
  }
  return peers
    .map((peer) => ({ peer, d: distance(peer) }))
    .sort((a, b) => Buffer.compare(a.d, b.d))
    .map((x) => x.peer)
}

/**
 * Create blob sharing for a started store on a network port. Call `start()`.
 *
 * @throws {InvalidArgumentError} for invalid options
 * @example
 * ```ts
 * import { createBlobSharing, vainNetBlobNetwork } from '@vain/memory'
 * const sharing = createBlobSharing({ memory, network: vainNetBlobNetwork(node), repairIntervalMs: 60_000 })
 * await sharing.start()
 * ```
 */
export function createBlobSharing(init: BlobSharingInit): BlobSharing {
  return new BlobSharing(init)
}
