/**
 * `@vain/net/wire`: the CBOR codec of control messages and the nesting bounds for decoders of
 * untrusted bytes, without libp2p (other packages decode their own records with these).
 *
 * @example
 * ```ts
 * import { decodeCborBounded, jsonNestingDepth } from '@vain/net/wire'
 * const record = decodeCborBounded(bytes, 8) // throws past 8 levels of arrays, maps and tags
 * if (jsonNestingDepth(text, 64) > 64) throw new Error('too deep')
 * ```
 * @packageDocumentation
 */
export type { DecodeMessageOptions } from './cbor.js'
export { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_MESSAGE_DEPTH, decodeMessage, encodeMessage } from './cbor.js'
export type { CborTokenizer } from './depth.js'
export { decodeCborBounded, depthLimitedTokenizer, jsonNestingDepth } from './depth.js'
