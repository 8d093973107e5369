export type { DecodeMessageOptions } from './cbor.js'
export { DEFAULT_MAX_MESSAGE_BYTES, decodeMessage, encodeMessage } from './cbor.js'
