export type { ConnectionPoolInit, ConnectionPoolStats, PoolHost } from './connection-pool.js'
export { ConnectionPool, FREQUENT_PEER_TAG } from './connection-pool.js'
