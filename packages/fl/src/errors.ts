/**
 * Errors thrown by `@vain/fl`. Each class has a `name` that says what happened, so callers and
 * tests can branch on `err.name` (the js-libp2p v2+ convention) and chain causes with `{ cause }`.
 *
 * @example
 * ```ts
 * import { decodeModel, InvalidModelError } from '@vain/fl'
 * try { decodeModel(bytesFromAPeer) } catch (err) {
 *   if (err instanceof InvalidModelError) console.warn('dropping a malformed model:', err.message)
 * }
 * ```
 * @module
 */

/** Options common to every `@vain/fl` error. */
export interface VainFlErrorOptions {
  cause?: unknown
}

/** Base class of every error `@vain/fl` throws on purpose. */
export class VainFlError extends Error {
  static override name = 'VainFlError'
  override name = 'VainFlError'
  constructor(message: string, options: VainFlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
  }
}

/** Options, an architecture or a partition spec failed validation. `issues` lists each problem. */
export class ConfigError extends VainFlError {
  static override name = 'ConfigError'
  override name = 'ConfigError'
  readonly issues: string[]
  constructor(message: string, issues: string[] = [], options: VainFlErrorOptions = {}) {
    super(issues.length > 0 ? `${message}:\n  - ${issues.join('\n  - ')}` : message, options)
    this.issues = issues
  }
}

/** Bytes (a serialized model, an ONNX file) or an in-memory model are not a valid model. */
export class InvalidModelError extends VainFlError {
  static override name = 'InvalidModelError'
  override name = 'InvalidModelError'
}

/** A tensor, parameter vector or dataset does not have the shape its architecture requires. */
export class ShapeMismatchError extends VainFlError {
  static override name = 'ShapeMismatchError'
  override name = 'ShapeMismatchError'
  /** The shape (or length) that was expected. */
  readonly expected: readonly number[]
  /** The shape (or length) that was found. */
  readonly actual: readonly number[]
  constructor(
    message: string,
    expected: readonly number[],
    actual: readonly number[],
    options: VainFlErrorOptions = {},
  ) {
    super(`${message}: expected [${expected.join(', ')}], got [${actual.join(', ')}]`, options)
    this.expected = expected
    this.actual = actual
  }
}

/** A model update (a delta or a set of parameters from a peer) is malformed or not finite. */
export class InvalidUpdateError extends VainFlError {
  static override name = 'InvalidUpdateError'
  override name = 'InvalidUpdateError'
}

/** A valid ONNX model whose graph is not one of the architectures `@vain/fl` can import. */
export class UnsupportedModelError extends VainFlError {
  static override name = 'UnsupportedModelError'
  override name = 'UnsupportedModelError'
}

/** Decoded bytes do not have the content hash the caller expected. */
export class HashMismatchError extends VainFlError {
  static override name = 'HashMismatchError'
  override name = 'HashMismatchError'
  readonly expected: string
  readonly actual: string
  constructor(expected: string, actual: string, options: VainFlErrorOptions = {}) {
    super(`content hash mismatch: expected ${expected}, got ${actual}`, options)
    this.expected = expected
    this.actual = actual
  }
}

/** A dataset is malformed: labels out of range, non-finite features, empty where data is needed. */
export class InvalidDatasetError extends VainFlError {
  static override name = 'InvalidDatasetError'
  override name = 'InvalidDatasetError'
}

/** What went wrong in a local data file ({@link DataFileError.code}). */
export type DataFileErrorCode =
  | 'NotFound'
  | 'FileTooLarge'
  | 'NotUtf8'
  | 'Empty'
  | 'TooManyRows'
  | 'TooManyColumns'
  | 'TooManyFiles'
  | 'TooManyValues'
  | 'UnterminatedQuote'
  | 'BadHeader'
  | 'FieldCount'
  | 'NotNumeric'
  | 'MissingLabel'
  | 'UnknownClass'
  | 'BadImage'
  | 'ImageTooLarge'
  | 'WrongImageSize'
  | 'UnsupportedImage'

/**
 * A node's local data file (a CSV file, an image of an image folder) is too large, malformed or
 * does not match the job's dataset schema. The message names the file (and the line, for CSV):
 * `data/iris.csv:12: column "petal_width" is not a number ("abc")`.
 */
export class DataFileError extends InvalidDatasetError {
  static override name = 'DataFileError'
  override name = 'DataFileError'
  /** What went wrong. */
  readonly code: DataFileErrorCode
  /** The file (or folder) at fault. */
  readonly file: string
  /** The 1-based line of a CSV file where the faulty record starts, when there is one. */
  readonly line: number | undefined
  constructor(
    code: DataFileErrorCode,
    file: string,
    line: number | undefined,
    message: string,
    options: VainFlErrorOptions = {},
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`, options)
    this.code = code
    this.file = file
    this.line = line
  }
}

/** onnxruntime failed to create a session or to run a graph (the ORT error is the `cause`). */
export class RuntimeError extends VainFlError {
  static override name = 'RuntimeError'
  override name = 'RuntimeError'
}

/** A method was called on a trainer after `close()`. */
export class ClosedError extends VainFlError {
  static override name = 'ClosedError'
  override name = 'ClosedError'
}

/**
 * True when `err` is one of the typed errors above (or a subclass).
 *
 * @example
 * ```ts
 * try { importOnnx(bytes) } catch (err) { if (!isVainFlError(err)) throw err }
 * ```
 */
export function isVainFlError(err: unknown): err is VainFlError {
  return err instanceof VainFlError
}
