export type { FramedStreamOptions } from './framed-stream.js'
export { encodeVarint, FramedStream, StreamClosedError } from './framed-stream.js'
export type {
  ChunkCodec,
  HandlePayloadOptions,
  PayloadHandler,
  PayloadProtocol,
  PayloadProtocolInit,
  SendPayloadOptions,
  SendPayloadResult,
} from './payload.js'
export { definePayloadProtocol, handlePayloads, sendPayload } from './payload.js'
export type {
  DialTarget,
  HandleOptions,
  InboundEvent,
  InboundGuard,
  InboundRefusal,
  ProtocolHost,
  RequestContext,
  RequestHandler,
  RequestOptions,
  RequestProtocol,
  RequestProtocolInit,
  RequestResult,
} from './request-response.js'
export {
  DialError,
  defineRequestProtocol,
  handleRequests,
  sendRequest,
} from './request-response.js'
