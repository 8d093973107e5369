export type { NetworkHealth, PeerSession, SessionTrackerInit } from './session-tracker.js'
export { SessionTracker } from './session-tracker.js'
