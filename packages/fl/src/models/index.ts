export * from './architecture.js'
export * from './model.js'
export * from './serialize.js'
