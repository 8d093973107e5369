/**
 * Errors thrown by `@vain/memory`. Each class has a `name` that says what happened, so callers
 * and tests can branch on `err.name` (the js-libp2p v2+ convention); causes chain with `{ cause }`.
 * Bad input never corrupts what is already stored: a call that throws one of these leaves the
 * store as it was.
 *
 * @example
 * ```ts
 * import { ValueTooLargeError } from '@vain/memory'
 * try { await ns.put('weights', huge) } catch (err) {
 *   if (err instanceof ValueTooLargeError) await memory.blobs.put(huge) // large values go to blobs
 * }
 * ```
 * @module
 */

/** Options common to every memory error. */
export interface MemoryErrorOptions {
  cause?: unknown
}

/** Base class of every error `@vain/memory` throws on purpose. */
export class MemoryError extends Error {
  static override name = 'MemoryError'
  override name = 'MemoryError'
  constructor(message: string, options: MemoryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
  }
}

/** A namespace, key, option or argument breaks the rules (see the message for which). */
export class InvalidArgumentError extends MemoryError {
  static override name = 'InvalidArgumentError'
  override name = 'InvalidArgumentError'
}

/** A key or namespace name breaks the naming rules. */
export class InvalidKeyError extends InvalidArgumentError {
  static override name = 'InvalidKeyError'
  override name = 'InvalidKeyError'
}

/** A value is larger than the namespace (or state store) accepts. */
export class ValueTooLargeError extends MemoryError {
  static override name = 'ValueTooLargeError'
  override name = 'ValueTooLargeError'
  readonly size: number
  readonly limit: number
  constructor(size: number, limit: number, options: MemoryErrorOptions = {}) {
    super(`value of ${size} bytes exceeds the limit of ${limit} bytes`, options)
    this.size = size
    this.limit = limit
  }
}

/** A byte budget (RAM budget of a RAM-only namespace, or the disk budget) has no room left. */
export class BudgetExceededError extends MemoryError {
  static override name = 'BudgetExceededError'
  override name = 'BudgetExceededError'
  readonly tier: 'ram' | 'disk'
  readonly requested: number
  readonly available: number
  constructor(
    tier: 'ram' | 'disk',
    requested: number,
    available: number,
    message?: string,
    options: MemoryErrorOptions = {},
  ) {
    super(message ?? `${tier} budget exceeded: ${requested} bytes requested, ${available} available`, options)
    this.tier = tier
    this.requested = requested
    this.available = available
  }
}

/** The store was used before `start()` or after `stop()`. */
export class StoreClosedError extends MemoryError {
  static override name = 'StoreClosedError'
  override name = 'StoreClosedError'
}

/** The persistent tier failed (I/O error, full disk, could not open). */
export class StorageError extends MemoryError {
  static override name = 'StorageError'
  override name = 'StorageError'
}

/** A stored key/value record could not be decoded (bytes on disk damaged or foreign). */
export class CorruptedValueError extends MemoryError {
  static override name = 'CorruptedValueError'
  override name = 'CorruptedValueError'
}

/** A chunk's bytes do not hash to the chunk's CID (on disk, or as received from a peer). */
export class CorruptedChunkError extends MemoryError {
  static override name = 'CorruptedChunkError'
  override name = 'CorruptedChunkError'
  /** The chunk's expected CID (string form). */
  readonly chunk: string
  constructor(chunk: string, message: string, options: MemoryErrorOptions = {}) {
    super(message, options)
    this.chunk = chunk
  }
}

/** A string or bytes are not a CID this package accepts (CIDv1, sha2-256, raw or dag-cbor). */
export class InvalidCidError extends MemoryError {
  static override name = 'InvalidCidError'
  override name = 'InvalidCidError'
}

/** The content does not hash to the CID it was announced or expected under. */
export class CidMismatchError extends MemoryError {
  static override name = 'CidMismatchError'
  override name = 'CidMismatchError'
  readonly expected: string
  readonly actual: string
  constructor(expected: string, actual: string, options: MemoryErrorOptions = {}) {
    super(`content hashes to ${actual}, expected ${expected}`, options)
    this.expected = expected
    this.actual = actual
  }
}

/** A blob manifest could not be decoded or breaks the manifest rules. */
export class InvalidManifestError extends MemoryError {
  static override name = 'InvalidManifestError'
  override name = 'InvalidManifestError'
}

/** The blob is not stored locally. */
export class BlobNotFoundError extends MemoryError {
  static override name = 'BlobNotFoundError'
  override name = 'BlobNotFoundError'
  readonly cid: string
  constructor(cid: string, message = `blob ${cid} is not stored here`, options: MemoryErrorOptions = {}) {
    super(message, options)
    this.cid = cid
  }
}

/** The blob's manifest is stored but some chunks are missing (an interrupted fetch): fetch it again to resume. */
export class BlobIncompleteError extends MemoryError {
  static override name = 'BlobIncompleteError'
  override name = 'BlobIncompleteError'
  readonly cid: string
  readonly missingChunks: number
  constructor(cid: string, missingChunks: number, options: MemoryErrorOptions = {}) {
    super(`blob ${cid} is incomplete here: ${missingChunks} chunk(s) missing`, options)
    this.cid = cid
    this.missingChunks = missingChunks
  }
}

/** A stream ended before the announced number of bytes (local put or remote transfer). */
export class TruncatedError extends MemoryError {
  static override name = 'TruncatedError'
  override name = 'TruncatedError'
}

/** No provider could deliver (a part of) the blob. What was fetched is kept: call again to resume. */
export class BlobUnavailableError extends MemoryError {
  static override name = 'BlobUnavailableError'
  override name = 'BlobUnavailableError'
  readonly cid: string
  /** Chunks still missing; -1 when not even the manifest could be fetched. */
  readonly missingChunks: number
  /** Peers that sent data not matching its hash, a wrong manifest or a wrong length. */
  readonly badProviders: string[]
  constructor(
    cid: string,
    missingChunks: number,
    badProviders: string[],
    message: string,
    options: MemoryErrorOptions = {},
  ) {
    super(message, options)
    this.cid = cid
    this.missingChunks = missingChunks
    this.badProviders = badProviders
  }
}

/** A remote peer answered with a malformed, oversized or mismatched message. */
export class ProtocolError extends MemoryError {
  static override name = 'ProtocolError'
  override name = 'ProtocolError'
}

/** Stored state does not match the expected schema (version without migration, or validation failed). */
export class SchemaMismatchError extends MemoryError {
  static override name = 'SchemaMismatchError'
  override name = 'SchemaMismatchError'
  /** Problems, one per line, e.g. `round: expected number, received string`. */
  readonly issues: string[]
  constructor(message: string, issues: string[] = [], options: MemoryErrorOptions = {}) {
    super(issues.length > 0 ? `${message}:\n  - ${issues.join('\n  - ')}` : message, options)
    this.issues = issues
  }
}

/** Too few peers could take a replica. */
export class ReplicationError extends MemoryError {
  static override name = 'ReplicationError'
  override name = 'ReplicationError'
  readonly cid: string
  readonly replicas: string[]
  readonly factor: number
  constructor(cid: string, replicas: string[], factor: number, message?: string, options: MemoryErrorOptions = {}) {
    super(message ?? `blob ${cid}: ${replicas.length} of ${factor} replicas confirmed`, options)
    this.cid = cid
    this.replicas = replicas
    this.factor = factor
  }
}

/** True when `err` is one of the typed errors above (or a subclass). */
export function isMemoryError(err: unknown): err is MemoryError {
  return err instanceof MemoryError
}
