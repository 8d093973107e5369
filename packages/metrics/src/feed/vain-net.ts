/**
 * `/vain/feed/1.0.0` over `@vain/net`: the live feed between nodes ("P2P message routing"). A
 * node serves its feed to authenticated peers only, each within a per-peer budget and all of them
 * within a shared one (token buckets, counted per request), with bounded responses; a node whose
 * WebSocket client subscribed to another peer's channels polls that peer with a cursor
 * ({@link watchRemoteFeed}) and relays what it gets, unchanged snapshots left out.
 *
 * A request names channels, the event cursor it read up to and the hash of each snapshot it
 * holds; the answer carries the snapshots that changed, the discrete events after the cursor
 * (at most {@link FEED_EVENT_BYTES} of them) and the next cursor.
 *
 * @example
 * ```ts
 * import { serveFeed, watchRemoteFeed } from '@vain/metrics/vain-net'
 * await serveFeed(node, { log, snapshot: (channel) => snapshots[channel]() })
 * const stop = watchRemoteFeed(node, peerId, { channels: () => ['metrics'], onSnapshot, onEvent, onError })
 * ```
 * @module
 */
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import {
  createRateLimiter,
  defineRequestProtocol,
  PeerDeniedError,
  RateLimitedError,
  type TokenBucketConfig,
  type VainNode,
} from '@vain/net'
import { z } from 'zod'
import type { FeedEventLog } from './log.js'
import { FEED_CHANNELS, type FeedChannel, FeedChannelSchema } from './protocol.js'

/** Bytes of discrete events one answer carries at most. */
export const FEED_EVENT_BYTES = 256 * 1024
/** Bytes of one snapshot (its JSON) an answer carries at most: a bigger one is sent as `{ truncated: true, bytes }`. */
export const FEED_SNAPSHOT_BYTES = 128 * 1024

const HashSchema = z.string().max(64)

/** The protocol: a small request (channels, cursor, hashes), an answer of at most 1.5 MiB. */
export const feedProtocol = defineRequestProtocol({
  id: '/vain/feed/1.0.0',
  request: z
    .object({
      v: z.literal(1),
      channels: z.array(FeedChannelSchema).min(1).max(FEED_CHANNELS.length),
      /** The last event id read (absent: from now on). */
      after: z.number().int().nonnegative().optional(),
      /** The hash of each snapshot the asker holds: unchanged ones are not sent again. */
      known: z
        .array(z.object({ channel: FeedChannelSchema, hash: HashSchema }).strict())
        .max(FEED_CHANNELS.length)
        .optional(),
    })
    .strict(),
  response: z
    .object({
      v: z.literal(1),
      snapshots: z
        .array(z.object({ channel: FeedChannelSchema, hash: HashSchema, snapshot: z.unknown() }).strict())
        .max(FEED_CHANNELS.length),
      events: z
        .array(
          z
            .object({
              id: z.number().int().positive(),
              channel: FeedChannelSchema,
              ts: z.number(),
              data: z.record(z.string(), z.unknown()),
            })
            .strict(),
        )
        .max(4096),
      next: z.number().int().nonnegative(),
      /** Events after the cursor the server no longer held. */
      dropped: z.number().int().nonnegative(),
    })
    .strict(),
  maxRequestBytes: 2048,
  maxResponseBytes: 6 * FEED_SNAPSHOT_BYTES + FEED_EVENT_BYTES + 64 * 1024,
  timeoutMs: 10_000,
})

/** Options of {@link serveFeed}. */
export interface ServeFeedInit {
  /** The node's discrete events. */
  log: FeedEventLog
  /** A channel's snapshot now (JSON; `null` when the node has none, e.g. `chain` without a chain). */
  snapshot: (channel: FeedChannel) => Promise<unknown> | unknown
  /** Each peer's budget of requests. Default: a burst of 10, 2 per second. */
  perPeer?: TokenBucketConfig
  /** The budget of all peers together. Default: a burst of 60, 20 per second. */
  shared?: TokenBucketConfig
}

/** Counters of a feed server (what a test or `/metrics` reads). */
export interface FeedServerStats {
  served: number
  /** Refused: over a peer's budget. */
  limitedPeer: number
  /** Refused: over the shared budget. */
  limitedShared: number
  /** Refused: the peer is not authenticated. */
  denied: number
}

/** A serving feed: its counters, and the function that stops serving. */
export interface FeedServer {
  stats: FeedServerStats
  stop(): Promise<void>
}

/** A retry time for the wire (at least 1 ms, at most a minute). */
const retryIn = (ms: number) => Math.min(60_000, Math.max(1, Math.ceil(ms)))

/** Hash of a snapshot's JSON (what `known` carries). */
function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

/**
 * Serve `/vain/feed/1.0.0` on `node`: to authenticated peers only (`PeerDeniedError` otherwise,
 * even on a node that does not require the handshake), within `perPeer` and `shared` budgets
 * (`RateLimitedError` with the wait).
 */
export async function serveFeed(node: VainNode, init: ServeFeedInit): Promise<FeedServer> {
  const perPeer = createRateLimiter({ ...(init.perPeer ?? { capacity: 10, refillPerSecond: 2 }), maxKeys: 10_000 })
  const shared = createRateLimiter({ ...(init.shared ?? { capacity: 60, refillPerSecond: 20 }), maxKeys: 1 })
  const stats: FeedServerStats = { served: 0, limitedPeer: 0, limitedShared: 0, denied: 0 }
  await node.handle(feedProtocol, async (req, ctx) => {
    if (!node.authenticatedPeers().some((p) => p.equals(ctx.remotePeer))) {
      stats.denied++
      throw new PeerDeniedError(`peer ${ctx.remotePeer} has not completed the vAIn handshake: no feed`)
    }
    const id = ctx.remotePeer.toString()
    const own = perPeer.tryTake(id)
    if (!own.allowed) {
      stats.limitedPeer++
      throw new RateLimitedError(`the feed is rate-limited per peer`, retryIn(own.retryAfterMs))
    }
    const all = shared.tryTake('all')
    if (!all.allowed) {
      stats.limitedShared++
      throw new RateLimitedError(`the feed is busy (shared budget)`, retryIn(all.retryAfterMs))
    }
    stats.served++
    const channels = new Set(req.channels)
    const known = new Map((req.known ?? []).map((k) => [k.channel, k.hash]))
    const snapshots: Array<{ channel: FeedChannel; hash: string; snapshot: unknown }> = []
    for (const channel of channels) {
      if (channel === 'alerts') continue // discrete only
      const value = await init.snapshot(channel)
      let text = JSON.stringify(value ?? null, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
      if (text.length > FEED_SNAPSHOT_BYTES) text = JSON.stringify({ truncated: true, bytes: text.length })
      const hash = hashOf(text)
      if (known.get(channel) === hash) continue
      snapshots.push({ channel, hash, snapshot: JSON.parse(text) })
    }
    const after = req.after ?? init.log.cursor
    const { events, next, dropped } = init.log.since(after, channels, FEED_EVENT_BYTES)
    return {
      v: 1 as const,
      snapshots,
      events: events.map((e) => ({ id: e.id, channel: e.channel, ts: e.ts, data: e.data })),
      next,
      dropped,
    }
  })
  return { stats, stop: () => node.unhandle(feedProtocol) }
}

/** Options of {@link watchRemoteFeed}. */
export interface WatchRemoteFeedInit {
  /** The channels wanted now (read before each request; none: wait). */
  channels: () => readonly FeedChannel[]
  /** A channel's snapshot changed (or is the first one). */
  onSnapshot: (channel: FeedChannel, snapshot: unknown) => void
  /** A discrete event of the remote. */
  onEvent: (event: { channel: FeedChannel; ts: number; data: Record<string, unknown> }) => void
  /** A request failed (the watch goes on, backing off). */
  onError: (err: Error) => void
  /** Wait between requests (ms). Default 1000. */
  intervalMs?: number
  /** Longest wait after failures (ms). Default 30 000. */
  maxBackoffMs?: number
}

/** A running watch. */
export interface RemoteFeedWatch {
  /** Ask now (e.g. a channel was added). */
  wake(): void
  stop(): void
}

/**
 * Poll `peer`'s feed over `/vain/feed/1.0.0`: changed snapshots and new events of the wanted
 * channels, every `intervalMs`; failures are reported and retried with backoff (a rate-limited
 * request waits the time the peer asked for).
 */
export function watchRemoteFeed(node: VainNode, peer: PeerId, init: WatchRemoteFeedInit): RemoteFeedWatch {
  const controller = new AbortController()
  const signal = controller.signal
  const interval = init.intervalMs ?? 1000
  const maxBackoff = init.maxBackoffMs ?? 30_000
  let wakeUp: (() => void) | undefined
  // a wake while a request is in flight: the next sleep is skipped
  let woken = false
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false
        resolve()
        return
      }
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        wakeUp = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      wakeUp = done
    })
  const loop = async () => {
    // the caller's init finishes first (its callbacks may refer to what it is building)
    await Promise.resolve()
    let after: number | undefined
    const known = new Map<FeedChannel, string>()
    let failures = 0
    while (!signal.aborted) {
      const channels = [...new Set(init.channels())]
      if (channels.length === 0) {
        await sleep(interval)
        continue
      }
      for (const c of [...known.keys()]) if (!channels.includes(c)) known.delete(c)
      let wait = interval
      try {
        const res = await node.request(
          peer,
          feedProtocol,
          {
            v: 1,
            channels,
            ...(after !== undefined ? { after } : {}),
            known: [...known].map(([channel, hash]) => ({ channel, hash })),
          },
          { signal },
        )
        failures = 0
        after = res.next
        const wanted = new Set(init.channels())
        for (const s of res.snapshots) {
          known.set(s.channel, s.hash)
          if (wanted.has(s.channel)) init.onSnapshot(s.channel, s.snapshot)
        }
        for (const e of res.events) if (wanted.has(e.channel)) init.onEvent(e)
      } catch (err) {
        if (signal.aborted) break
        init.onError(err as Error)
        failures++
        wait =
          err instanceof RateLimitedError
            ? Math.min(maxBackoff, Math.max(interval, err.retryAfterMs))
            : Math.min(maxBackoff, interval * 2 ** Math.min(failures, 16))
      }
      await sleep(wait)
    }
  }
  loop().catch((err: unknown) => {
    // a callback threw: report it, the watch ends
    if (!signal.aborted) init.onError(err instanceof Error ? err : new Error(String(err)))
    controller.abort()
  })
  return {
    wake: () => {
      if (wakeUp !== undefined) wakeUp()
      else woken = true
    },
    stop: () => controller.abort(),
  }
}
