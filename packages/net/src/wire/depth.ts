/**
 * Nesting bounds for decoders of untrusted bytes. cborg and every consumer of a decoded value
 * (zod, `JSON.stringify`, deep copies) recurse once per level of nesting, so a few kilobytes of
 * `[[[[…]]]]` overflow the stack. These helpers refuse input nested deeper than a bound **before**
 * anything recurses into it: {@link depthLimitedTokenizer} counts open CBOR containers as cborg
 * reads tokens; {@link jsonNestingDepth} scans JSON text without recursing.
 * @module
 */
import { type DecodeOptions, decode, type Token, Tokenizer, Type } from 'cborg'

/** The tokenizer type cborg's `decode` accepts in its `tokenizer` option. */
export type CborTokenizer = NonNullable<DecodeOptions['tokenizer']>

/** cborg's own defaults (what `decode` hands its tokenizer when it makes one). */
const CBORG_DEFAULTS: DecodeOptions = { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true }

/** cborg's tokenizer, counting open arrays, maps and tags: refuses nesting deeper than `maxDepth`. */
class DepthLimitedTokenizer implements CborTokenizer {
  readonly #inner: Tokenizer
  /** Items left in each open container (2 per map entry); `Infinity` for an indefinite length. */
  readonly #open: number[] = []
  readonly #maxDepth: number

  constructor(data: Uint8Array, maxDepth: number, options: DecodeOptions) {
    this.#inner = new Tokenizer(data, { ...CBORG_DEFAULTS, ...options })
    this.#maxDepth = maxDepth
  }

  done(): boolean {
    return this.#inner.done()
  }

  pos(): number {
    return this.#inner.pos()
  }

  next(): Token {
    const token = this.#inner.next()
    const open = this.#open
    if (Type.equals(token.type, Type.break)) {
      // the end of an indefinite-length container (any other break is refused by the decoder)
      if (open[open.length - 1] === Infinity) open.pop()
    } else {
      const top = open.length - 1
      if (top >= 0 && open[top] !== Infinity) (open[top] as number)--
      const items = Type.equals(token.type, Type.array)
        ? (token.value as number)
        : Type.equals(token.type, Type.map)
          ? (token.value as number) * 2
          : Type.equals(token.type, Type.tag)
            ? 1
            : 0
      if (items > 0) {
        open.push(items)
        if (open.length > this.#maxDepth) throw new Error(`nested deeper than ${this.#maxDepth} levels`)
      }
    }
    while (open.length > 0 && open[open.length - 1] === 0) open.pop()
    return token
  }
}

/** A plain `Uint8Array` view of `bytes` (cborg's own tokenizer does the same to a `Buffer`). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * A cborg tokenizer that throws `Error('nested deeper than N levels')` as soon as the array, map
 * and tag nesting of `bytes` passes `maxDepth` — before cborg's recursive decoder gets there.
 * Pass the same `options` as to `decode` (the tokenizer reads `strict`, `allowIndefinite`, …).
 *
 * @example
 * ```ts
 * import { decode } from 'cborg/extended'
 * const value = decode(bytes, { tokenizer: depthLimitedTokenizer(bytes, 64) })
 * ```
 */
export function depthLimitedTokenizer(bytes: Uint8Array, maxDepth: number, options: DecodeOptions = {}): CborTokenizer {
  return new DepthLimitedTokenizer(plain(bytes), maxDepth, options)
}

/**
 * cborg's `decode(bytes, options)`, refusing input nested deeper than `maxDepth` (arrays, maps
 * and tags each count one level).
 *
 * @throws {Error} for bytes that are not one CBOR value or that nest too deep (callers wrap it in
 *   their own typed error)
 * @example
 * ```ts
 * const value = decodeCborBounded(bytes, 32, { rejectDuplicateMapKeys: true })
 * ```
 */
export function decodeCborBounded(bytes: Uint8Array, maxDepth: number, options: DecodeOptions = {}): unknown {
  const data = plain(bytes)
  return decode(data, { ...options, tokenizer: new DepthLimitedTokenizer(data, maxDepth, options) })
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/**
 * The deepest nesting of arrays and objects in JSON `text` (0 for a scalar), found by one loop
 * over the characters (brackets inside strings, escaped quotes included, do not count). It stops
 * as soon as the depth passes `stopAbove` and returns that depth (`stopAbove + 1`), so a caller
 * can refuse deep input before `JSON.parse` and before anything recurses into the value. Text that
 * is not JSON gives some number; `JSON.parse` refuses it after.
 *
 * @example
 * ```ts
 * if (jsonNestingDepth(text, 64) > 64) throw new InvalidMessageError('nested deeper than 64 levels')
 * const value = JSON.parse(text)
 * ```
 */
export function jsonNestingDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > stopAbove) return deepest
      }
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      if (depth > 0) depth--
    }
  }
  return deepest
}
