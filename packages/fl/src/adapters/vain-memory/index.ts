/**
 * @packageDocumentation
 *
 * `@vain/fl/vain-memory` — the round protocol's model store and job-state store on
 * `@vain/memory`: models are content-addressed blobs whose CID is the model's address, fetched
 * from peers through blob sharing and verified; job states are crash-safe state snapshots.
 * `@vain/memory` is an optional peer dependency that only this entry needs.
 *
 * @example
 * ```ts
 * import { createMemory } from '@vain/memory'
 * import { memoryJobStateStore, memoryModelStore } from '@vain/fl/vain-memory'
 *
 * const memory = createMemory({ path: './data/memory' })
 * await memory.start()
 * const models = memoryModelStore(memory) // add { sharing } to fetch models from peers
 * const state = memoryJobStateStore(memory)
 * const cid = await models.put(new Uint8Array(1024))
 * console.log(cid, (await models.get(cid, { expectedBytes: 1024 })).byteLength) // bafyrei… 1024
 * await memory.stop()
 * ```
 */
export * from './errors.js'
export * from './job-state.js'
export * from './model-store.js'
