/**
 * Naming rules for namespaces and keys, checked at every entry point.
 * @module
 */
import { InvalidArgumentError, InvalidKeyError } from './errors.js'

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024

/** Namespace names: 1–64 chars of `a-z 0-9 . _ -`, starting with a letter or digit. */
const NAMESPACE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/

/**
 * Check a namespace name. Names starting with `_` are reserved for the package's own use.
 *
 * @throws {InvalidKeyError} when the name breaks the rules
 * @example
 * ```ts
 * assertNamespace('models') // ok
 * assertNamespace('Models/1') // throws InvalidKeyError
 * ```
 */
export function assertNamespace(name: unknown, options: { internal?: boolean } = {}): asserts name is string {
  if (typeof name !== 'string') throw new InvalidKeyError(`namespace must be a string, got ${typeof name}`)
  if (options.internal === true && name.startsWith('_') && NAMESPACE_RE.test(name.slice(1))) return
  if (!NAMESPACE_RE.test(name)) {
    throw new InvalidKeyError(
      `invalid namespace ${JSON.stringify(name.slice(0, 80))}: use 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit`,
    )
  }
}

/**
 * Check a key: a non-empty, well-formed (no lone surrogates) string of at most
 * {@link MAX_KEY_BYTES} UTF-8 bytes. Any other characters, `/` included, are allowed.
 *
 * @throws {InvalidKeyError} when the key breaks the rules
 * @example
 * ```ts
 * assertKey('round/12/optimizer') // ok
 * assertKey('') // throws InvalidKeyError
 * ```
 */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidKeyError(`key must be a string, got ${typeof key}`)
  const n = key.length
  if (n === 0) throw new InvalidKeyError('key must not be empty')
  // a UTF-16 unit is at most 3 UTF-8 bytes: measure only keys that could be too long
  if (n * 3 > MAX_KEY_BYTES && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(`key of ${Buffer.byteLength(key, 'utf8')} UTF-8 bytes exceeds ${MAX_KEY_BYTES}`)
  }
  if (!key.isWellFormed()) throw new InvalidKeyError('key contains a lone UTF-16 surrogate')
}

/**
 * Check a non-negative integer byte count or millisecond option.
 *
 * @throws {InvalidArgumentError} when `value` is not an integer in `[min, max]`
 */
export function assertInteger(label: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${label} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * Check a TTL in milliseconds: `undefined` or `0` mean "no expiry".
 *
 * @throws {InvalidArgumentError} for a negative, fractional or non-finite TTL
 */
export function assertTtl(ttlMs: unknown): number {
  if (ttlMs === undefined) return 0
  return assertInteger('ttlMs', ttlMs, 0, 100 * 365 * 24 * 3600_000)
}

/**
 * Check that a value is bytes.
 *
 * @throws {InvalidArgumentError} when it is not a `Uint8Array`
 */
export function assertBytes(label: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${label} must be a Uint8Array, got ${value === null ? 'null' : typeof value}`)
  }
}
