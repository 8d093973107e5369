/**
 * The gossip topics and stream protocols of the round over `@vain/net`. Every round message is a
 * {@link SignedMessage} envelope; the transport checks only its shape and size, the round
 * decodes and verifies it.
 * @module
 */
import { definePayloadProtocol, defineRequestProtocol, defineTopic } from '@vain/net'
import { z } from 'zod'
import { SignedMessageSchema } from '../../round/envelope.js'
import type { RoundChannel } from '../../round/ports.js'
import { Hex64Schema } from '../../round/spec.js'

/**
 * Largest gossip message per channel. gossipsub refuses inbound RPCs over 4 MiB, so a message
 * (with its RPC framing and signature) stays under that.
 */
export const ROUND_TOPIC_MAX_BYTES = {
  jobs: 1024 * 1024,
  results: 3 * 1024 * 1024,
  holdings: 3 * 1024 * 1024,
} as const satisfies Record<RoundChannel, number>

/** The gossip topic of each round channel. */
export const ROUND_TOPICS = {
  jobs: defineTopic({ name: 'vain/jobs/1', schema: SignedMessageSchema, maxBytes: ROUND_TOPIC_MAX_BYTES.jobs }),
  results: defineTopic({
    name: 'vain/results/1',
    schema: SignedMessageSchema,
    maxBytes: ROUND_TOPIC_MAX_BYTES.results,
  }),
  holdings: defineTopic({
    name: 'vain/holdings/1',
    schema: SignedMessageSchema,
    maxBytes: ROUND_TOPIC_MAX_BYTES.holdings,
  }),
} as const satisfies Record<RoundChannel, unknown>

/**
 * Updates streamed to committee members: the signed header as metadata (up to 4 MiB: a regional
 * aggregate's header lists the updates it combines), then the payload in 1 MiB chunks. The
 * receiver admits the header before it reads one payload byte.
 */
export const UPDATE_PROTOCOL = definePayloadProtocol({
  id: '/vain/update/1.0.0',
  meta: SignedMessageSchema,
  maxMetaBytes: 4 * 1024 * 1024,
  maxPayloadBytes: 1024 * 1024 * 1024,
  chunkBytes: 1024 * 1024,
})

/** Asks a peer for the signed results of a job's latest completed round. */
export const LATEST_PROTOCOL = defineRequestProtocol({
  id: '/vain/job-latest/1.0.0',
  request: z.strictObject({ jobId: Hex64Schema }),
  response: z.strictObject({ results: z.array(SignedMessageSchema).max(101) }),
  maxRequestBytes: 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  timeoutMs: 5_000,
})

const frameBytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected bytes' })

/** Secure-aggregation frames (the round validates and authenticates what is inside). */
export const SECAGG_PROTOCOL = defineRequestProtocol({
  id: '/vain/secagg/1.0.0',
  request: z.strictObject({ frame: frameBytes }),
  response: z.strictObject({ frame: frameBytes }),
  maxRequestBytes: 256 * 1024 * 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  // answers may be held until a stage closes: the round deadline bounds each call (via its signal)
  timeoutMs: 15 * 60_000,
})
