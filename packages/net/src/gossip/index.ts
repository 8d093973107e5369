/**
 * Gossip publish/subscribe (gossipsub with peer scoring on by default) with typed topics:
 * every message is CBOR, validated with zod by every relaying node; invalid messages are
 * rejected (their sender's score drops) and never reach subscribers.
 * @module
 */
import { type GossipSub, type GossipsubOpts, type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { z } from 'zod'
import { InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { decodeMessage, encodeMessage } from '../wire/index.js'

/** Where a node runs: decides address filtering (DHT) and gossip colocation scoring. */
export type NetworkProfile = 'loopback' | 'lan' | 'public'

/** A typed gossip topic. */
export interface Topic<S extends z.ZodType = z.ZodType> {
  readonly name: string
  readonly schema: S
  readonly maxBytes: number
}

/**
 * Define a typed gossip topic.
 *
 * @example
 * ```ts
 * const announcements = defineTopic({ name: 'vain/jobs/1', schema: z.object({ jobId: z.string() }) })
 * ```
 */
export function defineTopic<S extends z.ZodType>(init: { name: string; schema: S; maxBytes?: number }): Topic<S> {
  if (init.name.length === 0 || init.name.length > 256) throw new RangeError('topic name must be 1-256 chars')
  return { name: init.name, schema: init.schema, maxBytes: init.maxBytes ?? 64 * 1024 }
}

/**
 * gossipsub options for a network profile. Peer scoring stays on in every profile; `loopback`
 * turns off the IP-colocation penalty (many peers on 127.0.0.1 would otherwise be graylisted
 * and nothing delivered), `lan` softens it, `public` keeps gossipsub's defaults.
 *
 * @example
 * ```ts
 * const pubsub = gossipsub(gossipOptions('loopback'))
 * ```
 */
export function gossipOptions(profile: NetworkProfile, overrides: Partial<GossipsubOpts> = {}): Partial<GossipsubOpts> {
  const colocation =
    profile === 'loopback'
      ? { IPColocationFactorWeight: 0 }
      : profile === 'lan'
        ? { IPColocationFactorWeight: -1, IPColocationFactorThreshold: 64 }
        : {}
  return {
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    globalSignaturePolicy: 'StrictSign',
    ...overrides,
    scoreParams: { ...colocation, ...(overrides.scoreParams ?? {}) },
  }
}

/** Who sent a gossip message. */
export interface GossipMessageInfo {
  /** The original publisher (messages are signed). */
  from: PeerId | undefined
  topic: string
}

/**
 * Typed publish/subscribe over a gossipsub instance.
 *
 * @example
 * ```ts
 * const bus = new GossipBus(libp2p.services.pubsub)
 * const off = bus.subscribe(announcements, (msg, info) => console.log(info.from, msg.jobId))
 * await bus.publish(announcements, { jobId: 'j1' })
 * off()
 * ```
 */
export class GossipBus {
  private readonly pubsub: GossipSub
  private readonly handlers = new Map<string, Set<(value: unknown, info: GossipMessageInfo) => void>>()
  private readonly topics = new Map<string, Topic>()
  /** Messages rejected by validation, per topic. */
  readonly rejected = new Map<string, number>()

  constructor(pubsub: GossipSub) {
    this.pubsub = pubsub
    this.pubsub.addEventListener('message', this.onMessage)
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    const handlers = this.handlers.get(msg.topic)
    const topic = this.topics.get(msg.topic)
    if (handlers === undefined || topic === undefined) return
    let value: unknown
    try {
      value = decodeMessage(msg.data, topic.schema, { maxBytes: topic.maxBytes, label: topic.name })
    } catch {
      return
    }
    const info = { from: msg.type === 'signed' ? msg.from : undefined, topic: msg.topic }
    for (const h of handlers) {
      try {
        h(value, info)
      } catch {
        // a subscriber's bug must not break delivery to the others
      }
    }
  }

  /**
   * Publish a value; it is validated against the topic schema first.
   * @returns the peers the message was sent to directly
   */
  async publish<S extends z.ZodType>(topic: Topic<S>, value: z.input<S>): Promise<PeerId[]> {
    const checked = topic.schema.safeParse(value)
    if (!checked.success) {
      throw new InvalidMessageError(`${topic.name}: invalid message (${checked.error.issues[0]?.message})`)
    }
    const bytes = encodeMessage(checked.data)
    if (bytes.byteLength > topic.maxBytes) throw new MessageTooLargeError(bytes.byteLength, topic.maxBytes)
    const result = await this.pubsub.publish(topic.name, bytes)
    return result.recipients
  }

  /** Subscribe to a topic; returns a function that unsubscribes this handler. */
  subscribe<S extends z.ZodType>(
    topic: Topic<S>,
    handler: (value: z.output<S>, info: GossipMessageInfo) => void,
  ): () => void {
    let set = this.handlers.get(topic.name)
    if (set === undefined) {
      set = new Set()
      this.handlers.set(topic.name, set)
      this.topics.set(topic.name, topic)
      this.pubsub.topicValidators.set(topic.name, (_peer, msg) => {
        try {
          decodeMessage(msg.data, topic.schema, { maxBytes: topic.maxBytes, label: topic.name })
          return TopicValidatorResult.Accept
        } catch {
          this.rejected.set(topic.name, (this.rejected.get(topic.name) ?? 0) + 1)
          return TopicValidatorResult.Reject
        }
      })
      this.pubsub.subscribe(topic.name)
    }
    const h = handler as (value: unknown, info: GossipMessageInfo) => void
    set.add(h)
    return () => {
      const current = this.handlers.get(topic.name)
      if (current === undefined) return
      current.delete(h)
      if (current.size === 0) {
        this.handlers.delete(topic.name)
        this.topics.delete(topic.name)
        this.pubsub.topicValidators.delete(topic.name)
        this.pubsub.unsubscribe(topic.name)
      }
    }
  }

  /** Peers known to be subscribed to `topic`. */
  subscribers(topic: Topic): PeerId[] {
    return this.pubsub.getSubscribers(topic.name)
  }

  /** Detach from the gossipsub instance. */
  close(): void {
    this.pubsub.removeEventListener('message', this.onMessage)
    for (const name of this.handlers.keys()) {
      this.pubsub.topicValidators.delete(name)
      try {
        this.pubsub.unsubscribe(name)
      } catch {
        // already stopped
      }
    }
    this.handlers.clear()
    this.topics.clear()
  }
}
