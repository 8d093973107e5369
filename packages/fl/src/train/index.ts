export * from './ort-step.js'
export * from './reference.js'
export type { SessionInit } from './session.js'
export * from './trainer.js'
