export { OPSET_VERSION } from './builder.js'
export * from './graphs.js'
export * from './interchange.js'
