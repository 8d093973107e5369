/**
 * Protection for the node and its peers: {@link RateLimiter} (token buckets keyed by
 * `${peerId}${protocol}`, for inbound requests) and {@link CircuitBreakers} (per-peer circuit
 * breakers, for outbound calls), {@link InboundLimits} (per-peer, per-protocol and per-range
 * budgets, with a share kept for known peers) and {@link PeerPenalties} (strikes and bans for
 * peers that keep asking past their own budget). All are timer-free and take an injectable clock.
 *
 * @example
 * ```ts
 * import { CircuitBreakers, RateLimiter } from '@vain/net'
 *
 * const limiter = new RateLimiter({ capacity: 20, refillPerSecond: 5 })
 * limiter.take(`${remotePeer}${protocol}`) // throws RateLimitedError when exhausted
 *
 * const breakers = new CircuitBreakers({ failureThreshold: 5 })
 * const reply = await breakers.exec(peerKey, () => send(peer, msg)) // CircuitOpenError when open
 * ```
 * @module
 */

export {
  type AddressRangeOptions,
  addressRangeOf,
  ipRangeOf,
  LOOPBACK_RANGE,
  UNKNOWN_RANGE,
} from './address-range.js'
export {
  type CircuitBreakerEvents,
  type CircuitBreakerInit,
  CircuitBreakers,
  type CircuitInfo,
  type CircuitState,
  type CircuitStateChange,
  createCircuitBreakers,
} from './circuit-breaker.js'
export {
  type AdmitResult,
  type CheckOptions,
  type InboundBudget,
  InboundLimits,
  type InboundLimitsInit,
} from './inbound-limits.js'
export { PeerPenalties, type PeerPenaltiesInit, type Penalty } from './penalties.js'
export {
  createRateLimiter,
  DEFAULT_TOKEN_BUCKET,
  RateLimiter,
  type RateLimiterInit,
  type TakeResult,
  type TokenBucketConfig,
} from './token-bucket.js'
