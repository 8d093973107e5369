/**
 * The live feed's snapshots: for each channel, exactly the JSON body of the REST route that
 * shows the same panel (`peers`: `GET /api/peers`; `metrics`: `GET /api/metrics/system`;
 * `training`: `GET /api/metrics/training`; `health`: `GET /api/node/health`; `chain`: the `chain`
 * part of `GET /api/status`, `null` without a chain), encoded as the API encodes (the route's zod
 * schema, bytes as hex, bigints as decimal strings).
 * @module
 */
import type { FeedChannel } from '@vain/metrics/feed'
import { z } from 'zod'
import type { ApiParts } from './parts.js'
import { SystemResponseSchema, systemBody, TrainingResponseSchema, trainingBody } from './routes/metrics.js'
import { healthBody, peersBody } from './routes/node.js'
import { PeerSchema } from './schemas.js'

/** What the snapshots read. */
export type SnapshotParts = Pick<ApiParts, 'node' | 'participant' | 'resources' | 'chain' | 'feed'>

/** JSON out as the API writes it (server.ts): bytes as hex, bigints as decimal strings. */
const replacer = (_key: string, value: unknown): unknown =>
  value instanceof Uint8Array
    ? Buffer.from(value).toString('hex')
    : typeof value === 'bigint'
      ? value.toString()
      : value

const PeersResponseSchema = z.array(PeerSchema)
const HealthResponseSchema = z.looseObject({ ok: z.boolean(), uptimeS: z.number(), connectedPeers: z.number() })

/** The JSON value the API would answer: the schema's encoding, then JSON with the API's replacer. */
function asJson(schema: z.ZodType, value: unknown): unknown {
  return JSON.parse(JSON.stringify(z.encode(schema, value as never), replacer))
}

/** `GET /api/peers`'s body, as the API answers it. */
export function peersSnapshot(parts: SnapshotParts): unknown {
  return asJson(PeersResponseSchema, peersBody(parts.node))
}

/** `GET /api/node/health`'s body, as the API answers it. */
export async function healthSnapshot(parts: SnapshotParts): Promise<unknown> {
  return asJson(HealthResponseSchema, await healthBody(parts.node))
}

/** A channel's snapshot now (`alerts` has none: `undefined`). */
export async function feedSnapshot(parts: SnapshotParts, channel: FeedChannel): Promise<unknown> {
  switch (channel) {
    case 'peers':
      return peersSnapshot(parts)
    case 'metrics':
      return asJson(SystemResponseSchema, systemBody(parts))
    case 'training':
      return asJson(TrainingResponseSchema, await trainingBody(parts))
    case 'health':
      return healthSnapshot(parts)
    case 'chain':
      return parts.chain === undefined ? null : JSON.parse(JSON.stringify(parts.chain() ?? null, replacer))
    case 'alerts':
      return undefined
  }
}
