/**
 * Nesting bound for JSON from outside the process (the local chain's JSON-RPC bodies): zod,
 * `JSON.stringify` and the provider recurse once per level, so a few kilobytes of `[[[[…]]]]`
 * overflow the stack. Internal: not re-exported (`@vain/net/wire` has the same scan; `@vain/chain`
 * does not depend on `@vain/net`).
 * @module
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d

/**
 * The deepest nesting of arrays and objects in JSON `text` (0 for a scalar), by one loop over its
 * characters (brackets inside strings, escaped quotes included, do not count). Stops as soon as
 * the depth passes `stopAbove` and returns that depth. Text that is not JSON gives some number;
 * `JSON.parse` refuses it after.
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
