/**
 * What the REST API serves: the running node's parts, passed in (the API holds no state of its own
 * besides the external updates it queues).
 * @module
 */
import type { ModelStore, Participant } from '@vain/fl'
import type { VainNode } from '@vain/net'
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from '../logger.js'
import type { ExternalUpdates } from './external-updates.js'
import type { FeedPart } from './feed-sources.js'
import type { HistoryPart } from './routes/history.js'

/** The fastify instance the routes are added to (zod type provider). */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>

/** The node's resource limits (`@vain/resources`), when the node runs a resource scheduler. */
export interface ResourcesPart {
  /** The limits in force. */
  limits(): unknown
  /**
   * Replace the limits (validated input); answers the limits in force after. Absent when the
   * node's scheduler takes its limits at start only (the route answers 501).
   */
  setLimits?(limits: unknown): unknown | Promise<unknown>
  /** Host and process figures (`GET /api/metrics/system`), when known. */
  sample?(): unknown
}

/** Staking on chain, when the node has a chain. */
export interface StakingPart {
  /** Stake `amount` VAIN (decimal string) from the node's account; answers the transaction and standing. */
  stake(amount: string): Promise<unknown>
}

/** The running node's parts the API serves. */
export interface ApiParts {
  node: VainNode
  participant: Participant
  models: ModelStore
  /** The token state-changing requests must present (`Authorization: Bearer <token>`). */
  token: string
  log: Logger
  /** The node's chain status (stake, tier, role verdicts), when it has a chain. */
  chain?: () => unknown
  staking?: StakingPart
  /** `GET /metrics` (Prometheus text) and the cluster view (`@vain/metrics`). */
  metrics?: { text: () => Promise<string>; cluster: () => Promise<unknown> }
  /** The node's metric history (`GET /api/metrics/history`): its `@vain/metrics` store. */
  metricsHistory?: HistoryPart
  resources?: ResourcesPart
  /** External trainers' updates (`POST /api/model/update`) and the keys accepted for them. */
  externalUpdates?: { queue: ExternalUpdates; trainerKeys: () => Promise<string[]> }
  /** The live feed's sources (`GET /api/feed`): events, per-round figures, routing (feed-sources.ts). */
  feed?: FeedPart
}

/** Options of a route group: legacy (unprefixed) copies are left out of the OpenAPI document. */
export interface RouteOptions {
  hide: boolean
}
