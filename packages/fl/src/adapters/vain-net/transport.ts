/**
 * The round's {@link RoundTransport} over a `@vain/net` node: signed messages on gossip topics,
 * updates streamed to committee members (header first; the payload is read only once the
 * round admitted the header), catch-up and secure-aggregation requests, and signatures with the
 * node's Ed25519 identity (a peer id embeds its public key).
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { MessageTooLargeError, type PayloadHandler, type VainNode, verifyPeerSignature } from '@vain/net'
import type { SignedMessage } from '../../round/envelope.js'
import type { ReadPayload, RoundChannel, RoundTransport, SignalOptions } from '../../round/ports.js'
import { NoHandlerError, PayloadNotReadError } from './errors.js'
import { LATEST_PROTOCOL, ROUND_TOPICS, SECAGG_PROTOCOL, UPDATE_PROTOCOL } from './protocols.js'

type UpdateHandler = (header: unknown, readPayload: ReadPayload, from: string) => Promise<void>
type LatestHandler = (jobId: string) => SignedMessage[] | undefined
type SecAggHandler = (frame: Uint8Array, from: string) => Promise<Uint8Array>

/** The transport {@link roundTransport} returns: every optional part of the port, and `stop()`. */
export interface VainNetRoundTransport extends Required<RoundTransport> {
  /** Stop serving: unsubscribe from the round's topics and unregister its protocols (the node stays up). */
  stop(): Promise<void>
}

/** Options of {@link roundTransport}. */
export interface RoundTransportOptions {
  /** Peers asked at once by `requestLatest`. Default 4. */
  latestFanout?: number
}

const signalOf = (options: SignalOptions | undefined) =>
  options?.signal === undefined ? {} : { signal: options.signal }

/**
 * Reads one update's payload on demand, at most once, while the update handler runs. The size the
 * sender declared is checked first, then every chunk as it arrives: a payload over `maxBytes` is
 * refused (`MessageTooLargeError`) without being buffered.
 */
function payloadReader(body: AsyncIterable<Uint8Array>, declared: number | undefined) {
  let state: 'unread' | 'read' | 'closed' = 'unread'
  const read: ReadPayload = async (maxBytes) => {
    if (state !== 'unread') {
      throw new PayloadNotReadError(
        state === 'read' ? 'the payload was already read' : 'the update handler already returned',
      )
    }
    state = 'read'
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError('maxBytes must be an integer ≥ 0')
    if (declared !== undefined && declared > maxBytes) throw new MessageTooLargeError(declared, maxBytes)
    let out = new Uint8Array(declared ?? Math.min(maxBytes, 1024 * 1024))
    let length = 0
    for await (const chunk of body) {
      const next = length + chunk.byteLength
      if (next > maxBytes) throw new MessageTooLargeError(next, maxBytes)
      if (next > out.byteLength) {
        const grown = new Uint8Array(Math.min(maxBytes, Math.max(next, 2 * out.byteLength)))
        grown.set(out.subarray(0, length))
        out = grown
      }
      out.set(chunk, length)
      length = next
    }
    return length === out.byteLength ? out : out.slice(0, length)
  }
  return {
    read,
    wasRead: () => state === 'read',
    close: () => {
      if (state === 'unread') state = 'closed'
    },
  }
}

/**
 * Build the round transport on a started `@vain/net` node and serve its protocols.
 *
 * Gossip: `vain/jobs/1`, `vain/results/1`, `vain/holdings/1` (signed envelopes, validated by
 * every relaying node). Streams: `/vain/update/1.0.0` (an update: the signed header, then the
 * payload), `/vain/job-latest/1.0.0` (a job's latest results, for nodes catching up) and
 * `/vain/secagg/1.0.0` (secure-aggregation frames).
 *
 * @example
 * ```ts
 * import { createNode } from '@vain/net'
 * import { roundTransport } from '@vain/fl/vain-net'
 *
 * const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], profile: 'loopback' })
 * await node.start()
 * const transport = await roundTransport(node)
 * const off = transport.subscribe('jobs', (message, from) => console.log('job from', from))
 * // … createParticipant({ transport, … })
 * off()
 * await transport.stop()
 * await node.stop()
 * ```
 */
export async function roundTransport(
  node: VainNode,
  options: RoundTransportOptions = {},
): Promise<VainNetRoundTransport> {
  const fanout = Math.max(1, Math.min(64, Math.trunc(options.latestFanout ?? 4)))
  // the latest handler registered serves (unsubscribing one gives the turn back to the previous)
  const updateHandlers: UpdateHandler[] = []
  const latestHandlers: LatestHandler[] = []
  const secAggHandlers: SecAggHandler[] = []
  const subscriptions = new Set<() => void>()
  const remove =
    <T>(list: T[], item: T) =>
    () => {
      const i = list.lastIndexOf(item)
      if (i >= 0) list.splice(i, 1)
    }

  const onUpdateStream: PayloadHandler<typeof UPDATE_PROTOCOL.meta> = async (header, body, ctx) => {
    const handler = updateHandlers.at(-1)
    if (handler === undefined) throw new NoHandlerError('this node does not take updates')
    const payload = payloadReader(body, ctx.size)
    try {
      // a handler that throws before reading refuses the stream: @vain/net sends the error and
      // resets the stream without reading the payload
      await handler(header, payload.read, ctx.remotePeer.toString())
    } finally {
      payload.close()
    }
    if (!payload.wasRead()) throw new PayloadNotReadError('the update was not taken (its payload was not read)')
  }

  await node.handlePayload(UPDATE_PROTOCOL, onUpdateStream)
  await node.handle(LATEST_PROTOCOL, (req) => {
    for (let i = latestHandlers.length - 1; i >= 0; i--) {
      const results = latestHandlers[i]?.(req.jobId)
      if (results !== undefined && results.length > 0) return { results: results.slice(0, 101) }
    }
    return { results: [] }
  })
  await node.handle(SECAGG_PROTOCOL, async (req, ctx) => {
    const handler = secAggHandlers.at(-1)
    if (handler === undefined) throw new NoHandlerError('this node does not serve secure aggregation')
    return { frame: await handler(req.frame, ctx.remotePeer.toString()) }
  })

  let stopped = false
  return {
    self: node.peerId.toString(),
    sign: (data) => node.sign(data),
    verify: (signer, data, signature) => verifyPeerSignature(signer, data, signature),

    publish: async (channel: RoundChannel, message: SignedMessage) => {
      await node.publish(ROUND_TOPICS[channel], message)
    },
    subscribe: (channel, handler) => {
      const off = node.subscribe(ROUND_TOPICS[channel], (message, info) =>
        handler(message, info.from?.toString() ?? 'unknown'),
      )
      const unsubscribe = () => {
        if (subscriptions.delete(unsubscribe)) off()
      }
      subscriptions.add(unsubscribe)
      return unsubscribe
    },

    sendUpdate: async (to, header, payload, opts) => {
      await node.sendPayload(peerIdFromString(to), UPDATE_PROTOCOL, header, payload, signalOf(opts))
    },
    onUpdate: (handler) => {
      updateHandlers.push(handler)
      return remove(updateHandlers, handler)
    },

    requestLatest: async (jobId, opts) => {
      const self = node.peerId.toString()
      const peers = node.authenticatedPeers().filter((p) => p.toString() !== self)
      for (let i = 0; i < peers.length; i += fanout) {
        opts?.signal?.throwIfAborted()
        const answers = await Promise.all(
          peers.slice(i, i + fanout).map((peer) =>
            node.request(peer, LATEST_PROTOCOL, { jobId }, signalOf(opts)).then(
              ({ results }) => results,
              () => [] as SignedMessage[], // unreachable or misbehaving: ask the next
            ),
          ),
        )
        const found = answers.find((results) => results.length > 0)
        if (found !== undefined) return found
      }
      return []
    },
    onLatestRequest: (handler) => {
      latestHandlers.push(handler)
      return remove(latestHandlers, handler)
    },

    requestSecAgg: async (to, frame, opts) => {
      const { frame: answer } = await node.request(peerIdFromString(to), SECAGG_PROTOCOL, { frame }, signalOf(opts))
      return answer
    },
    onSecAggRequest: (handler) => {
      secAggHandlers.push(handler)
      return remove(secAggHandlers, handler)
    },

    stop: async () => {
      if (stopped) return
      stopped = true
      for (const unsubscribe of [...subscriptions]) unsubscribe()
      updateHandlers.length = 0
      latestHandlers.length = 0
      secAggHandlers.length = 0
      if (node.isStarted) {
        await Promise.allSettled([UPDATE_PROTOCOL, LATEST_PROTOCOL, SECAGG_PROTOCOL].map((p) => node.unhandle(p)))
      }
    },
  }
}
