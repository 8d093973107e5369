/**
 * Errors thrown by `@vain/net`. Each class has a `name` that says what happened, so callers and
 * tests can branch on `err.name` (the js-libp2p v2+ convention) and chain causes with `{ cause }`.
 *
 * @example
 * ```ts
 * import { RateLimitedError } from '@vain/net'
 * try { await node.request(peer, echo, { text: 'hi' }) } catch (err) {
 *   if (err instanceof RateLimitedError) await sleep(err.retryAfterMs)
 * }
 * ```
 * @module
 */

/** Options common to every vAIn network error. */
export interface VainErrorOptions {
  cause?: unknown
}

/** Base class of every error `@vain/net` throws on purpose. */
export class VainNetError extends Error {
  static override name = 'VainNetError'
  override name = 'VainNetError'
  constructor(message: string, options: VainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
  }
}

/** A config object, file or CLI flag failed validation. `issues` lists each problem. */
export class ConfigError extends VainNetError {
  static override name = 'ConfigError'
  override name = 'ConfigError'
  readonly issues: string[]
  constructor(message: string, issues: string[] = [], options: VainErrorOptions = {}) {
    super(issues.length > 0 ? `${message}:\n  - ${issues.join('\n  - ')}` : message, options)
    this.issues = issues
  }
}

/** Bytes received from a peer (or a file) could not be decoded into a valid message. */
export class InvalidMessageError extends VainNetError {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}

/** A message or payload exceeded the configured maximum size. */
export class MessageTooLargeError extends VainNetError {
  static override name = 'MessageTooLargeError'
  override name = 'MessageTooLargeError'
  readonly size: number
  readonly limit: number
  constructor(size: number, limit: number, options: VainErrorOptions = {}) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`, options)
    this.size = size
    this.limit = limit
  }
}

/** The remote speaks a protocol version this node does not support. */
export class UnsupportedVersionError extends VainNetError {
  static override name = 'UnsupportedVersionError'
  override name = 'UnsupportedVersionError'
}

/** The remote (or a local limiter) refused the request: too many requests from this peer. */
export class RateLimitedError extends VainNetError {
  static override name = 'RateLimitedError'
  override name = 'RateLimitedError'
  /** Milliseconds after which a retry will likely be accepted. */
  readonly retryAfterMs: number
  constructor(message: string, retryAfterMs: number, options: VainErrorOptions = {}) {
    super(message, options)
    this.retryAfterMs = retryAfterMs
  }
}

/** The outbound circuit breaker for this peer is open: calls fail fast until it half-opens. */
export class CircuitOpenError extends VainNetError {
  static override name = 'CircuitOpenError'
  override name = 'CircuitOpenError'
  readonly retryAfterMs: number
  constructor(message: string, retryAfterMs: number, options: VainErrorOptions = {}) {
    super(message, options)
    this.retryAfterMs = retryAfterMs
  }
}

/** The application handshake with a peer failed (bad signature, wrong key, timeout, version). */
export class HandshakeError extends VainNetError {
  static override name = 'HandshakeError'
  override name = 'HandshakeError'
}

/** The node identity key file is missing, unreadable, corrupt, or the passphrase is wrong. */
export class IdentityError extends VainNetError {
  static override name = 'IdentityError'
  override name = 'IdentityError'
}

/** An operation did not finish before its deadline or its `AbortSignal` fired. */
export class TimeoutError extends VainNetError {
  static override name = 'TimeoutError'
  override name = 'TimeoutError'
}

/** The remote handled the request and answered with an error (name and message are the remote's). */
export class RemoteError extends VainNetError {
  static override name = 'RemoteError'
  override name = 'RemoteError'
  /** The `name` of the error on the remote side, e.g. `InvalidMessageError`. */
  readonly remoteName: string
  constructor(remoteName: string, message: string, options: VainErrorOptions = {}) {
    super(`remote error ${remoteName}: ${message}`, options)
    this.remoteName = remoteName
  }
}

/** Too many concurrent streams to one peer (see the connection pool's `maxStreamsPerPeer`). */
export class StreamLimitError extends VainNetError {
  static override name = 'StreamLimitError'
  override name = 'StreamLimitError'
}

/** A method that needs a running node was called before `start()` or after `stop()`. */
export class NotStartedError extends VainNetError {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/** The peer is denied (it failed the handshake) and the connection was refused or closed. */
export class PeerDeniedError extends VainNetError {
  static override name = 'PeerDeniedError'
  override name = 'PeerDeniedError'
}

/** True when `err` is one of the typed errors above (or a subclass). */
export function isVainNetError(err: unknown): err is VainNetError {
  return err instanceof VainNetError
}
