import { z } from 'zod'
import { definePayloadProtocol, defineRequestProtocol } from '../src/index.js'

/** The payload protocol of the throughput benchmark. */
export const benchBlob = definePayloadProtocol({
  id: '/bench/blob/1.0.0',
  meta: z.object({}),
  maxPayloadBytes: 2 ** 31,
  chunkBytes: 1 << 20,
})

/** The request protocol of the flood benchmark. */
export const floodEcho = defineRequestProtocol({
  id: '/bench/flood-echo/1.0.0',
  request: z.object({ text: z.string().max(64) }),
  response: z.object({ text: z.string() }),
})
