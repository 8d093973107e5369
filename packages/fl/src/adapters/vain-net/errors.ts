/**
 * Errors of the `@vain/net` round transport. Those a remote peer should see are marked
 * `expose` (`@vain/net` then sends their name and message; the sender gets a `RemoteError`
 * whose `remoteName` is this name).
 * @module
 */

/** This node serves no handler for the request (it does not take updates, or secure aggregation). */
export class NoHandlerError extends Error {
  static override name = 'NoHandlerError'
  override name = 'NoHandlerError'
  readonly expose = true
}

/**
 * An update handler resolved without reading the payload, or `readPayload` was called twice or
 * after the handler returned. The stream is refused without reading the payload.
 */
export class PayloadNotReadError extends Error {
  static override name = 'PayloadNotReadError'
  override name = 'PayloadNotReadError'
  readonly expose = true
}
