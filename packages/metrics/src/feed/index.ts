/**
 * `@vain/metrics/feed` — the live feed of a vAIn node (`GET /api/feed`, a WebSocket): its wire
 * contract (channels, zod schemas of every message, typed error names, close codes) and a typed
 * client with auto-reconnect, exponential backoff with jitter, resubscription after reconnect and
 * permessage-deflate. Browser-safe (pass the page's `WebSocket`); in Node it uses `ws`.
 *
 * @example
 * ```ts
 * import { FeedClient } from '@vain/metrics/feed'
 * const feed = new FeedClient({ url: 'ws://127.0.0.1:8080/api/feed' })
 * feed.on('event', (e) => console.log(e.channel, e.seq, e.data))
 * feed.subscribe(['peers', 'training'])
 * ```
 * @module
 */
export * from './client.js'
export * from './protocol.js'
