import { z } from 'zod'
import { definePayloadProtocol } from '../src/index.js'

/** The payload protocol of the throughput benchmark. */
export const benchBlob = definePayloadProtocol({
  id: '/bench/blob/1.0.0',
  meta: z.object({}),
  maxPayloadBytes: 2 ** 31,
  chunkBytes: 1 << 20,
})
