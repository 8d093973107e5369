/**
 * The round protocol's transport over a @vain/net node: jobs and results on gossip topics,
 * updates streamed to committee members over `/vain/update/1.0.0`, secure-aggregation frames
 * over `/vain/secagg/1.0.0` (request/response; a coordinator holds the answer until a stage
 * closes), signatures with the node's Ed25519 identity (the peer id embeds the public key).
 */

import { peerIdFromString } from '@libp2p/peer-id'
import { type RoundResult, type RoundTransport, type UpdateMeta, UpdateMetaSchema } from '@vain/fl'
import {
  definePayloadProtocol,
  defineRequestProtocol,
  defineTopic,
  type VainNode,
  verifyPeerSignature,
} from '@vain/net'
import { z } from 'zod'

/** Raw gossip values: the round protocol validates them itself. */
const anyMessage = z.custom<unknown>(() => true)
export const JOBS_TOPIC = defineTopic({ name: 'vain/jobs/1', schema: anyMessage, maxBytes: 256 * 1024 })
export const RESULTS_TOPIC = defineTopic({ name: 'vain/results/1', schema: anyMessage, maxBytes: 4 * 1024 * 1024 })

export const UPDATE_PROTOCOL = definePayloadProtocol({
  id: '/vain/update/1.0.0',
  meta: UpdateMetaSchema,
  maxPayloadBytes: 512 * 1024 * 1024,
  chunkBytes: 1024 * 1024,
})

export const LATEST_PROTOCOL = defineRequestProtocol({
  id: '/vain/job-latest/1.0.0',
  request: z.strictObject({ jobId: z.string().regex(/^[0-9a-f]{64}$/) }),
  response: z.strictObject({ results: z.array(anyMessage).max(101) }),
  maxResponseBytes: 16 * 1024 * 1024,
  timeoutMs: 5_000,
})

const frameBytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected bytes' })

/** Secure-aggregation frames (the round protocol validates and authenticates what is inside). */
export const SECAGG_PROTOCOL = defineRequestProtocol({
  id: '/vain/secagg/1.0.0',
  request: z.strictObject({ frame: frameBytes }),
  response: z.strictObject({ frame: frameBytes }),
  maxRequestBytes: 256 * 1024 * 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  // answers may be held until a stage closes: the round deadline bounds each call (via its signal)
  timeoutMs: 15 * 60_000,
})

type SecAggHandler = (frame: Uint8Array, from: string) => Promise<Uint8Array>
type UpdateHandler = (meta: unknown, payload: Uint8Array, from: string) => Promise<void>
type LatestHandler = (jobId: string) => RoundResult[] | undefined

/** Build the transport and register its protocol handler on `node` (started). */
export async function netTransport(node: VainNode): Promise<RoundTransport & { close(): void }> {
  const updateHandlers = new Set<UpdateHandler>()
  const latestHandlers = new Set<LatestHandler>()
  const secAggHandlers = new Set<SecAggHandler>()
  const offs: Array<() => void> = []
  await node.handle(SECAGG_PROTOCOL, async (req, ctx) => {
    const handler = [...secAggHandlers][0]
    if (handler === undefined)
      throw Object.assign(new Error('this node does not serve secure aggregation'), { expose: true })
    return { frame: await handler(req.frame, ctx.remotePeer.toString()) }
  })
  await node.handle(LATEST_PROTOCOL, (req) => {
    for (const h of latestHandlers) {
      const results = h(req.jobId)
      if (results !== undefined && results.length > 0) return { results }
    }
    return { results: [] }
  })
  await node.handlePayload(UPDATE_PROTOCOL, async (meta, body, ctx) => {
    const parts: Uint8Array[] = []
    let total = 0
    for await (const chunk of body) {
      parts.push(chunk)
      total += chunk.byteLength
    }
    const payload = new Uint8Array(total)
    let offset = 0
    for (const p of parts) {
      payload.set(p, offset)
      offset += p.byteLength
    }
    // a rejection throws: the sender gets it as a typed RemoteError
    for (const h of updateHandlers) await h(meta, payload, ctx.remotePeer.toString())
  })
  return {
    self: node.peerId.toString(),
    sign: (data) => node.sign(data),
    verify: (signer, data, signature) => verifyPeerSignature(signer, data, signature),
    publishJob: async (a) => {
      await node.publish(JOBS_TOPIC, a)
    },
    publishResult: async (r: RoundResult) => {
      await node.publish(RESULTS_TOPIC, r)
    },
    sendUpdate: async (to: string, meta: UpdateMeta, payload: Uint8Array, options = {}) => {
      await node.sendPayload(peerIdFromString(to), UPDATE_PROTOCOL, meta, payload, {
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      })
    },
    onJob: (handler) => {
      const off = node.subscribe(JOBS_TOPIC, (value, info) => handler(value, info.from?.toString() ?? 'unknown'))
      offs.push(off)
      return off
    },
    onResult: (handler) => {
      const off = node.subscribe(RESULTS_TOPIC, (value, info) => handler(value, info.from?.toString() ?? 'unknown'))
      offs.push(off)
      return off
    },
    onUpdate: (handler) => {
      updateHandlers.add(handler)
      return () => updateHandlers.delete(handler)
    },
    requestLatest: async (jobId, options = {}) => {
      for (const peer of node.authenticatedPeers()) {
        if (options.signal?.aborted === true) break
        try {
          const { results } = await node.request(
            peer,
            LATEST_PROTOCOL,
            { jobId },
            {
              ...(options.signal !== undefined ? { signal: options.signal } : {}),
            },
          )
          if (results.length > 0) return results
        } catch {
          // try the next peer
        }
      }
      return []
    },
    requestSecAgg: async (to, frame, options = {}) => {
      const { frame: answer } = await node.request(
        peerIdFromString(to),
        SECAGG_PROTOCOL,
        { frame },
        {
          ...(options.signal !== undefined ? { signal: options.signal } : {}),
        },
      )
      return answer
    },
    onSecAggRequest: (handler) => {
      secAggHandlers.add(handler)
      return () => secAggHandlers.delete(handler)
    },
    onLatestRequest: (handler) => {
      latestHandlers.add(handler)
      return () => latestHandlers.delete(handler)
    },
    close: () => {
      for (const off of offs.splice(0)) off()
      updateHandlers.clear()
      latestHandlers.clear()
      secAggHandlers.clear()
    },
  }
}
