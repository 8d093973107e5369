/**
 * A node's feed events: discrete events (a peer connected, a round completed, an alert fired…)
 * appended by the node, handed to live listeners (its WebSocket feed) and kept in a bounded ring
 * (by count and bytes) for peers that read the feed over `/vain/feed` with a cursor.
 * @module
 */
import type { FeedChannel } from './protocol.js'

/** One discrete event of a node's feed. */
export interface FeedLogEvent {
  /** Increasing from 1 on each node start. */
  id: number
  channel: FeedChannel
  /** ms since epoch. */
  ts: number
  /** `{ event: {...} }` or, on `alerts`, `{ alert: {...} }`. */
  data: Record<string, unknown>
  /** The encoded size of `data` (bytes, UTF-16 code units as an estimate). */
  size: number
}

/** Options of {@link FeedEventLog}. */
export interface FeedEventLogInit {
  /** Events kept at most. Default 512. */
  maxEvents?: number
  /** Bytes of events kept at most. Default 1 MiB. */
  maxBytes?: number
  /** Largest single event (bytes of its JSON): a bigger one is replaced by `{ truncated: true }`. Default 16 KiB. */
  maxEventBytes?: number
}

/** The feed's event log: append, listen, read since a cursor. */
export class FeedEventLog {
  private readonly events: FeedLogEvent[] = []
  private readonly listeners = new Set<(e: FeedLogEvent) => void>()
  private nextId = 1
  private bytes = 0
  private readonly maxEvents: number
  private readonly maxBytes: number
  private readonly maxEventBytes: number

  constructor(init: FeedEventLogInit = {}) {
    this.maxEvents = init.maxEvents ?? 512
    this.maxBytes = init.maxBytes ?? 1024 * 1024
    this.maxEventBytes = init.maxEventBytes ?? 16 * 1024
  }

  /** The id the next event will get (a cursor that reads nothing old). */
  get cursor(): number {
    return this.nextId - 1
  }

  /** Append an event and tell the listeners. `data` must be JSON (bigints become strings). */
  append(channel: FeedChannel, data: Record<string, unknown>, ts = Date.now()): FeedLogEvent {
    let text = JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
    let clean = JSON.parse(text) as Record<string, unknown>
    if (text.length > this.maxEventBytes) {
      clean = { truncated: true, bytes: text.length }
      text = JSON.stringify(clean)
    }
    const event: FeedLogEvent = { id: this.nextId++, channel, ts, data: clean, size: text.length }
    this.events.push(event)
    this.bytes += event.size
    while (this.events.length > this.maxEvents || this.bytes > this.maxBytes) {
      const old = this.events.shift() as FeedLogEvent
      this.bytes -= old.size
    }
    for (const l of [...this.listeners]) {
      try {
        l(event)
      } catch {
        // a listener's failure is its own
      }
    }
    return event
  }

  /** Listen to appended events; returns the function that stops listening. */
  listen(listener: (e: FeedLogEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Events after `after` on `channels`, at most `maxBytes` of them (oldest first); `next` is the
   * cursor to ask with next time, `dropped` how many events after `after` the ring no longer holds.
   */
  since(
    after: number,
    channels: ReadonlySet<FeedChannel>,
    maxBytes: number,
  ): { events: FeedLogEvent[]; next: number; dropped: number } {
    // a cursor from before this log's start (the node restarted): read what the log holds
    if (after > this.cursor) after = 0
    const out: FeedLogEvent[] = []
    const first = this.events[0]?.id ?? this.nextId
    const dropped = Math.max(0, first - after - 1)
    let next = Math.max(after, first - 1)
    let bytes = 0
    for (const e of this.events) {
      if (e.id <= after) continue
      if (channels.has(e.channel)) {
        if (bytes + e.size > maxBytes && out.length > 0) break
        bytes += e.size
        out.push(e)
      }
      next = e.id
    }
    return { events: out, next: Math.min(next, this.cursor), dropped }
  }
}
