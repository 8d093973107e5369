/**
 * Fetch a blob by CID from the peers that provide it: the manifest from the first provider whose
 * bytes hash to the CID, then the missing chunks in parallel across providers, each chunk
 * verified against its CID before it is stored. A provider that sends bytes not matching their
 * hash (or a malformed reply) is dropped for the rest of the fetch; a chunk it was asked for goes
 * to another provider. What was stored stays stored, so a failed fetch resumes where it stopped.
 * @module
 */
import { type BlobStore, BlobTooLargeError } from '../blobs/blob-store.js'
import { type CID, manifestCid } from '../blobs/cid.js'
import { decodeManifest, type Manifest } from '../blobs/manifest.js'
import { BlobUnavailableError } from '../errors.js'
import type { BlobNetwork } from './port.js'

/** Tuning of fetches. */
export interface FetchTuning {
  /** Chunk requests in flight in total. */
  concurrency: number
  /** Chunk requests in flight per provider. */
  perProviderConcurrency: number
  /** Deadline of one request (ms). */
  requestTimeoutMs: number
  /** Transport failures after which a provider is dropped for this fetch. */
  maxProviderFailures: number
  /** How long to look for providers in the DHT (ms). */
  discoveryTimeoutMs: number
}

/** Options of a fetch. */
export interface FetchOptions {
  signal?: AbortSignal
  /** Pin the fetched blob under this label (`true`: `default`). Default: not pinned (collectable). */
  pin?: boolean | string
  /** Peers to ask besides the DHT's providers (tried first). */
  providers?: string[]
  /**
   * Largest blob accepted, in bytes: a blob whose (hash-checked) manifest declares more is
   * refused with `BlobTooLargeError` before its manifest is stored or any chunk is fetched.
   * Default: only the blob store's disk budget.
   */
  maxBytes?: number
}

/** What a provider did during a fetch. */
export interface ProviderReport {
  chunks: number
  bytes: number
  /** Replies that did not match their hash, or were malformed. */
  bad: number
  /** Transport failures and timeouts. */
  failures: number
  /** Dropped for the rest of the fetch (misbehaved or failed too often). */
  dropped: boolean
}

/** What a fetch did. */
export interface FetchReport {
  cid: CID
  size: number
  chunks: number
  /** Chunks received in this fetch. */
  chunksFetched: number
  /** Chunks that were already stored (an earlier, interrupted fetch). */
  chunksReused: number
  bytesFetched: number
  /** Per provider peer id. */
  providers: Record<string, ProviderReport>
  /** Providers that sent data not matching its hash. */
  badProviders: string[]
}

/** Called when a provider misbehaves. */
export type BadProviderListener = (peer: string, reason: string) => void

interface ProviderState {
  report: ProviderReport
  inflight: number
  /** Paused until this time (rate limited). */
  pausedUntil: number
}

function isRateLimited(err: unknown): err is { retryAfterMs: number } {
  return (
    (err as Error)?.name === 'RateLimitedError' && typeof (err as { retryAfterMs?: unknown }).retryAfterMs === 'number'
  )
}

function isMisbehaviour(err: unknown): boolean {
  const name = (err as Error)?.name
  return (
    name === 'CorruptedChunkError' ||
    name === 'CidMismatchError' ||
    name === 'InvalidManifestError' ||
    name === 'ProtocolError'
  )
}

/**
 * Fetch `cid` into `blobs` from providers found on `network`.
 *
 * @throws {BlobUnavailableError} when no provider could deliver the manifest or some chunk
 *   (what was fetched is kept)
 */
export async function fetchBlob(
  blobs: BlobStore,
  network: BlobNetwork,
  cid: CID,
  tuning: FetchTuning,
  options: FetchOptions,
  onBad: BadProviderListener,
): Promise<FetchReport> {
  const signal = options.signal
  signal?.throwIfAborted()
  const pin = options.pin === true ? 'default' : options.pin === false ? undefined : options.pin
  const providers = new Map<string, ProviderState>()
  const badProviders: string[] = []
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  const addProvider = (peer: string) => {
    if (peer === network.self || providers.has(peer)) return
    providers.set(peer, {
      report: { chunks: 0, bytes: 0, bad: 0, failures: 0, dropped: false },
      inflight: 0,
      pausedUntil: 0,
    })
    notify()
  }
  const drop = (peer: string, state: ProviderState, bad: string | undefined) => {
    if (bad !== undefined) {
      state.report.bad++
      if (!badProviders.includes(peer)) {
        badProviders.push(peer)
        onBad(peer, bad)
      }
    }
    state.report.dropped = true
  }
  for (const peer of options.providers ?? []) addProvider(peer)

  // discover providers in the background for as long as the fetch runs
  const discovery = new AbortController()
  const discoverySignal = AbortSignal.any([
    discovery.signal,
    AbortSignal.timeout(tuning.discoveryTimeoutMs),
    ...(signal === undefined ? [] : [signal]),
  ])
  let discovering = true
  const discoveryDone = (async () => {
    try {
      for await (const peer of network.findProviders(cid, { signal: discoverySignal })) addProvider(peer)
    } catch {
      // no routing, or the deadline: use the providers found so far
    } finally {
      discovering = false
      notify()
    }
  })()

  const waitForChange = async (ms: number) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    signal?.throwIfAborted()
  }

  const requestSignal = () =>
    signal === undefined
      ? AbortSignal.timeout(tuning.requestTimeoutMs)
      : AbortSignal.any([signal, AbortSignal.timeout(tuning.requestTimeoutMs)])

  const active = new Set<Promise<void>>()
  const release = await blobs.lease()
  try {
    // 1. the manifest: from a partial fetch, or the first provider whose bytes hash to the CID
    const maxBytes = options.maxBytes
    const checkSize = (m: Manifest) => {
      if (maxBytes !== undefined && m.size > maxBytes) throw new BlobTooLargeError(cid.toString(), m.size, maxBytes)
    }
    let manifest: Manifest | undefined = blobs.manifest(cid)
    if (manifest !== undefined) checkSize(manifest)
    if (manifest !== undefined && pin !== undefined) await blobs.pin(cid, pin)
    const askedForManifest = new Set<string>()
    while (manifest === undefined) {
      signal?.throwIfAborted()
      const candidate = [...providers].find(([peer, s]) => !s.report.dropped && !askedForManifest.has(peer))
      if (candidate === undefined) {
        if (!discovering) {
          throw new BlobUnavailableError(
            cid.toString(),
            -1,
            badProviders,
            `no provider of ${cid} delivered its manifest (${providers.size} provider(s) tried)`,
          )
        }
        await waitForChange(1_000)
        continue
      }
      const [peer, state] = candidate
      askedForManifest.add(peer)
      try {
        const bytes = await network.fetchManifest(peer, cid, { signal: requestSignal() })
        if (bytes === undefined) continue
        // the size a genuine manifest declares is the blob's: refuse it before storing anything
        if (maxBytes !== undefined && manifestCid(bytes).equals(cid)) checkSize(decodeManifest(bytes))
        manifest = await blobs.importManifest(cid, bytes, pin)
      } catch (err) {
        signal?.throwIfAborted()
        if (err instanceof BlobTooLargeError) throw err
        if (isMisbehaviour(err)) drop(peer, state, `manifest: ${(err as Error).message}`)
        else state.report.failures++
      }
    }

    // 2. the missing chunks, in parallel
    const missing = blobs.missingChunks(cid)
    const total = manifest.chunks.length
    const pending: number[] = [...missing]
    const refusedBy = new Map<number, Set<string>>()
    let chunksFetched = 0
    let bytesFetched = 0
    let fatal: unknown

    const eligible = (index: number, now: number): string | undefined => {
      let best: string | undefined
      let bestState: ProviderState | undefined
      for (const [peer, s] of providers) {
        if (s.report.dropped || s.inflight >= tuning.perProviderConcurrency || s.pausedUntil > now) continue
        if (refusedBy.get(index)?.has(peer) === true) continue
        if (
          bestState === undefined ||
          s.inflight < bestState.inflight ||
          (s.inflight === bestState.inflight && s.report.failures < bestState.report.failures)
        ) {
          best = peer
          bestState = s
        }
      }
      return best
    }
    const canEverServe = (index: number): boolean => {
      for (const [peer, s] of providers) {
        if (!s.report.dropped && refusedBy.get(index)?.has(peer) !== true) return true
      }
      return false
    }

    const runOne = async (index: number, peer: string, state: ProviderState): Promise<void> => {
      state.inflight++
      try {
        const bytes = await network.fetchChunk(peer, cid, index, { signal: requestSignal() })
        if (bytes === undefined) {
          const refused = refusedBy.get(index) ?? new Set<string>()
          refused.add(peer)
          refusedBy.set(index, refused)
          pending.push(index)
          return
        }
        await blobs.putChunk(cid, index, bytes)
        state.report.chunks++
        state.report.bytes += bytes.byteLength
        chunksFetched++
        bytesFetched += bytes.byteLength
      } catch (err) {
        pending.push(index)
        if (signal?.aborted === true) return
        if (isMisbehaviour(err)) {
          drop(peer, state, `chunk ${index}: ${(err as Error).message}`)
        } else if (isRateLimited(err)) {
          state.pausedUntil = Date.now() + Math.min(err.retryAfterMs, 30_000)
        } else if ((err as Error)?.name === 'BudgetExceededError' || (err as Error)?.name === 'StoreClosedError') {
          fatal ??= err
        } else {
          state.report.failures++
          if (state.report.failures >= tuning.maxProviderFailures) drop(peer, state, undefined)
        }
      } finally {
        state.inflight--
      }
    }

    while (pending.length > 0 || active.size > 0) {
      signal?.throwIfAborted()
      if (fatal !== undefined) break
      const now = Date.now()
      // launch what can run; chunks no provider can ever serve stay pending
      for (let i = 0; i < pending.length && active.size < tuning.concurrency; ) {
        const index = pending[i]!
        const peer = eligible(index, now)
        if (peer === undefined) {
          i++
          continue
        }
        pending.splice(i, 1)
        const task: Promise<void> = runOne(index, peer, providers.get(peer)!).finally(() => {
          active.delete(task)
          notify()
        })
        active.add(task)
      }
      if (active.size === 0 && pending.length > 0) {
        const stuck = pending.filter((index) => !canEverServe(index))
        if (stuck.length === pending.length && !discovering) {
          throw new BlobUnavailableError(
            cid.toString(),
            pending.length,
            badProviders,
            `${pending.length} chunk(s) of ${cid} could not be fetched from ${providers.size} provider(s)` +
              (badProviders.length > 0 ? ` (${badProviders.length} sent bad data)` : ''),
          )
        }
      }
      // wait for a task to finish, a provider to appear, or a pause to end
      await waitForChange(active.size > 0 ? 30_000 : 250)
    }
    if (fatal !== undefined) throw fatal
    await blobs.completeIfDone(cid)
    const report: Record<string, ProviderReport> = {}
    for (const [peer, s] of providers) report[peer] = s.report
    return {
      cid,
      size: manifest.size,
      chunks: total,
      chunksFetched,
      chunksReused: total - missing.length,
      bytesFetched,
      providers: report,
      badProviders,
    }
  } finally {
    discovery.abort()
    // let requests still in flight (after an abort or a fatal error) settle before releasing the lease
    await Promise.allSettled([...active])
    release()
    void discoveryDone
  }
}
