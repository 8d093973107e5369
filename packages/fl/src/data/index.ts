export * from './dataset.js'
export * from './mnist.js'
export * from './partition.js'
export * from './synthetic.js'
