/**
 * Errors of the update codecs. Every decoding failure is a {@link CodecError}, so a node can
 * drop a bad update with one `instanceof` check; subclasses say what was wrong.
 *
 * @example
 * ```ts
 * import { CodecError, decodeUpdate } from '@vain/fl'
 * try { decodeUpdate(bytesFromPeer, { expectedLength, maxBytes }) } catch (err) {
 *   if (err instanceof CodecError) console.warn(`dropping update: ${err.name}: ${err.message}`)
 * }
 * ```
 * @module
 */
import { VainFlError } from '../errors.js'

/** Base class of every error an update codec throws on bad input. */
export class CodecError extends VainFlError {
  static override name = 'CodecError'
  override name = 'CodecError'
}

/** The bytes are not a well-formed encoded update (bad magic, bad field, trailing bytes...). */
export class MalformedUpdateError extends CodecError {
  static override name = 'MalformedUpdateError'
  override name = 'MalformedUpdateError'
}

/** The bytes end before the update does. */
export class TruncatedUpdateError extends MalformedUpdateError {
  static override name = 'TruncatedUpdateError'
  override name = 'TruncatedUpdateError'
}

/** A sparse update names an index outside the model, or indices that do not strictly increase. */
export class InvalidIndexError extends MalformedUpdateError {
  static override name = 'InvalidIndexError'
  override name = 'InvalidIndexError'
}

/** The update encodes a different number of parameters than the model has. */
export class UpdateLengthMismatchError extends MalformedUpdateError {
  static override name = 'UpdateLengthMismatchError'
  override name = 'UpdateLengthMismatchError'
}

/** The update is larger than the caller's `maxBytes`. Checked before anything is parsed. */
export class UpdateTooLargeError extends CodecError {
  static override name = 'UpdateTooLargeError'
  override name = 'UpdateTooLargeError'
}

/** The update uses a format version or value encoding this decoder does not know. */
export class UnsupportedCodecError extends CodecError {
  static override name = 'UnsupportedCodecError'
  override name = 'UnsupportedCodecError'
}
