/** Types of the model registry. @module */
import type { TypedEventTarget } from 'main-event'
import type { Architecture, Model } from '../models/index.js'

/** What a registered model is doing right now. */
export type ModelState = 'idle' | 'training' | 'aggregating' | 'evaluating'

/** The states, in a stable order. */
export const MODEL_STATES: readonly ModelState[] = Object.freeze(['idle', 'training', 'aggregating', 'evaluating'])

/** A JSON value (version metadata: metrics, the round, the job). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A named model: its architecture, and how many trained versions it has. */
export interface RegisteredModel {
  readonly name: string
  readonly architecture: Architecture
  readonly description: string | undefined
  /** Milliseconds since the epoch (the registry's clock). */
  readonly createdAt: number
}

/** One trained version of a named model. */
export interface ModelVersion {
  readonly name: string
  /** 1, 2, 3… in registration order, per name. */
  readonly version: number
  /** The content hash of the parameters and architecture (`modelHash`, sha2-256 hex). */
  readonly hash: string
  /** Content hash of the version it was trained from (any name), or undefined for a root. */
  readonly parent: string | undefined
  readonly createdAt: number
  /** Free-form JSON (e.g. `{ round: 7, accuracy: 0.93 }`). */
  readonly metadata: Readonly<Record<string, JsonValue>>
}

/** Detail of the `state` event. */
export interface ModelStateChange {
  readonly name: string
  readonly state: ModelState
  readonly previous: ModelState
}

/** Events a {@link ModelRegistry} dispatches. */
export interface ModelRegistryEvents {
  /** A name was registered with its architecture. */
  model: CustomEvent<RegisteredModel>
  /** A new version was registered. */
  version: CustomEvent<ModelVersion>
  /** A model's state changed. */
  state: CustomEvent<ModelStateChange>
}

/**
 * Persistence for a registry: a key/value store of bytes. Keys are `models/<name>`,
 * `versions/<name>/<version>` (JSON) and `blobs/<hash>` (the canonical model bytes of
 * `encodeModel`). Any database, a folder of files, or {@link memoryRegistryStore}.
 */
export interface RegistryStore {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array): Promise<void>
  /** Every key starting with `prefix`, in any order. */
  keys(prefix: string): Promise<string[]>
}

/** Options of {@link ModelRegistry.registerArchitecture}. */
export interface RegisterArchitectureOptions {
  description?: string
}

/** Options of {@link ModelRegistry.registerVersion}. */
export interface RegisterVersionOptions {
  /**
   * Content hash of the version this one was trained from (it must be registered, under any
   * name). Default: the latest version of the same name; `null`: a root.
   */
  parent?: string | null
  /** JSON metadata stored with the version (nested at most `MAX_METADATA_DEPTH`, 32 levels). */
  metadata?: Record<string, JsonValue>
}

/** A version by name and number (default: the latest), or a content hash. */
export type VersionRef = { name: string; version?: number } | string

/**
 * Architectures and trained versions by name and version, with lineage (each version names
 * its parent by content hash) and an observable state per model, so several models can share
 * one node. Dispatches `model`, `version` and `state` events.
 *
 * @example
 * ```ts
 * import { createModelRegistry } from '@vain/fl'
 * const registry = createModelRegistry()
 * registry.addEventListener('version', (e) => console.log(`${e.detail.name} v${e.detail.version} ${e.detail.hash}`))
 * const v = await registry.registerVersion('digits', model, { metadata: { round: 3 } })
 * registry.lineage(v.hash) // this version and its ancestors, newest first
 * ```
 */
export interface ModelRegistry extends TypedEventTarget<ModelRegistryEvents> {
  /** Loads what the store holds (required before use when a store is given; a no-op otherwise). */
  start(): Promise<void>
  /** Waits for pending writes. */
  stop(): Promise<void>
  /** Registers a name with its architecture (idempotent for the same architecture). */
  registerArchitecture(
    name: string,
    architecture: Architecture,
    options?: RegisterArchitectureOptions,
  ): Promise<RegisteredModel>
  /**
   * Registers a trained model as the next version of `name` (registering the name first if it
   * is new). The same parameters registered again return the existing version.
   */
  registerVersion(name: string, model: Model, options?: RegisterVersionOptions): Promise<ModelVersion>
  /** Every registered name. */
  models(): RegisteredModel[]
  /** One name, or undefined. */
  model(name: string): RegisteredModel | undefined
  /** The versions of a name, oldest first. */
  versions(name: string): ModelVersion[]
  /** A version by name and number (default the latest), or by content hash; undefined if unknown. */
  version(ref: VersionRef): ModelVersion | undefined
  /** The parameters of a version (from memory or the store, checked against its hash). */
  load(ref: VersionRef): Promise<Model>
  /** The version and its ancestors, following parent hashes to a root: newest first. */
  lineage(ref: VersionRef): ModelVersion[]
  /** The state of a model (`idle` until told otherwise). */
  state(name: string): ModelState
  /** Sets a model's state, dispatching `state` when it changes. */
  setState(name: string, state: ModelState): void
  /** Runs `fn` with the model in `state`, then restores the previous state (also on failure). */
  track<T>(name: string, state: ModelState, fn: () => Promise<T> | T): Promise<T>
}
