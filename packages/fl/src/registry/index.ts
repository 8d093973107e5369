/**
 * A model registry: architectures and trained versions by name and version, lineage by content
 * hash, and an observable state per model (`idle`, `training`, `aggregating`, `evaluating`) as
 * typed events, so several models can share one node; optionally persisted through an injected
 * key/value {@link RegistryStore}.
 *
 * @example
 * ```ts
 * import { createModel, createModelRegistry, mlp } from '@vain/fl'
 * const registry = createModelRegistry()
 * const root = await registry.registerVersion('digits', createModel(mlp(784, [128], 10), { seed: 1 }))
 * registry.addEventListener('version', (e) => console.log(`${e.detail.name} v${e.detail.version}`))
 * await registry.track('digits', 'training', async () => {  … train … })
 * ```
 * @module
 */
export {
  ArchitectureMismatchError,
  ModelExistsError,
  RegistryNotStartedError,
  UnknownModelError,
  UnknownVersionError,
} from './errors.js'
export {
  createModelRegistry,
  MAX_METADATA_DEPTH,
  type ModelRegistryComponents,
  type ModelRegistryInit,
  memoryRegistryStore,
} from './registry.js'
export {
  type JsonValue,
  MODEL_STATES,
  type ModelRegistry,
  type ModelRegistryEvents,
  type ModelState,
  type ModelStateChange,
  type ModelVersion,
  type RegisterArchitectureOptions,
  type RegisteredModel,
  type RegisterVersionOptions,
  type RegistryStore,
  type VersionRef,
} from './types.js'
