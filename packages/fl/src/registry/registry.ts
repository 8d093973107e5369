/** The in-memory model registry, optionally persisted through a {@link RegistryStore}. @module */
import { TypedEventEmitter } from 'main-event'
import { ConfigError } from '../errors.js'
import { sha256Hex } from '../internal/hash.js'
import { jsonNestingDepth, parseJsonBounded } from '../internal/json-depth.js'
import { type Architecture, architectureKey, parseArchitecture } from '../models/architecture.js'
import { assertParams, type Model } from '../models/model.js'
import { decodeModel, encodeModel } from '../models/serialize.js'
import {
  ArchitectureMismatchError,
  ModelExistsError,
  RegistryNotStartedError,
  UnknownModelError,
  UnknownVersionError,
} from './errors.js'
import {
  type JsonValue,
  MODEL_STATES,
  type ModelRegistry,
  type ModelRegistryEvents,
  type ModelState,
  type ModelVersion,
  type RegisterArchitectureOptions,
  type RegisteredModel,
  type RegisterVersionOptions,
  type RegistryStore,
  type VersionRef,
} from './types.js'

/** Options of {@link createModelRegistry}. */
export interface ModelRegistryInit {
  /** Keep registered parameters in memory (default true); with a store, false loads them on demand. */
  cacheModels?: boolean
}

/** Collaborators of {@link createModelRegistry}. */
export interface ModelRegistryComponents {
  /** Persistence (default: none, memory only). */
  store?: RegistryStore
  /** Clock for `createdAt` (default `Date.now`). */
  now?: () => number
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const HASH = /^[0-9a-f]{64}$/
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(`model name must match ${NAME} (letters, digits, '.', '_', '-'), got ${JSON.stringify(name)}`)
  }
}

const versionKey = (name: string, version: number) => `versions/${name}/${String(version).padStart(10, '0')}`
const json = (value: unknown) => utf8.encode(JSON.stringify(value))

class DefaultModelRegistry extends TypedEventEmitter<ModelRegistryEvents> implements ModelRegistry {
  private readonly store: RegistryStore | undefined
  private readonly now: () => number
  private readonly cacheModels: boolean
  private readonly named = new Map<string, RegisteredModel>()
  private readonly byName = new Map<string, ModelVersion[]>()
  private readonly byHash = new Map<string, ModelVersion>()
  private readonly params = new Map<string, Model>()
  private readonly states = new Map<string, ModelState>()
  private started: boolean
  private queue: Promise<unknown> = Promise.resolve()

  constructor(init: ModelRegistryInit, components: ModelRegistryComponents) {
    super()
    this.store = components.store
    this.now = components.now ?? Date.now
    this.cacheModels = init.cacheModels ?? true
    this.started = this.store === undefined
  }

  async start(): Promise<void> {
    if (this.store === undefined) {
      this.started = true
      return
    }
    const store = this.store
    const read = async (key: string): Promise<any> => {
      const bytes = await store.get(key)
      if (bytes === undefined) throw new UnknownVersionError(`the store lists ${key} but has no value for it`)
      try {
        return parseJsonBounded(fromUtf8.decode(bytes), MAX_RECORD_DEPTH)
      } catch (cause) {
        throw new ConfigError(`registry record ${key} is damaged: ${(cause as Error).message}`, [], { cause })
      }
    }
    for (const key of (await store.keys('models/')).sort()) {
      const m = await read(key)
      checkName(m.name)
      const entry: RegisteredModel = {
        name: m.name,
        architecture: parseArchitecture(m.architecture),
        description: m.description ?? undefined,
        createdAt: m.createdAt,
      }
      this.named.set(entry.name, entry)
      if (!this.byName.has(entry.name)) this.byName.set(entry.name, [])
    }
    const versions: ModelVersion[] = []
    for (const key of await store.keys('versions/')) {
      const v = await read(key)
      versions.push({
        name: v.name,
        version: v.version,
        hash: v.hash,
        parent: v.parent ?? undefined,
        createdAt: v.createdAt,
        metadata: v.metadata ?? {},
      })
    }
    versions.sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name) || a.version - b.version)
    for (const v of versions) {
      if (!this.named.has(v.name))
        throw new UnknownModelError(`the store has versions of '${v.name}' but not the model`)
      const list = this.byName.get(v.name)!
      list.push(v)
      list.sort((a, b) => a.version - b.version)
      if (!this.byHash.has(v.hash)) this.byHash.set(v.hash, v)
    }
    this.started = true
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => undefined)
  }

  private checkStarted(): void {
    if (!this.started) throw new RegistryNotStartedError('call start() first: the registry has a store to load')
  }

  /** Runs registrations one at a time (version numbers and store writes stay consistent). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn)
    this.queue = p.catch(() => undefined)
    return p
  }

  registerArchitecture(
    name: string,
    architecture: Architecture,
    options: RegisterArchitectureOptions = {},
  ): Promise<RegisteredModel> {
    return this.serial(() => this.addArchitecture(name, architecture, options))
  }

  private async addArchitecture(
    name: string,
    architecture: Architecture,
    options: RegisterArchitectureOptions,
  ): Promise<RegisteredModel> {
    this.checkStarted()
    checkName(name)
    const arch = parseArchitecture(architecture)
    const existing = this.named.get(name)
    if (existing !== undefined) {
      if (architectureKey(existing.architecture) !== architectureKey(arch)) {
        throw new ModelExistsError(`'${name}' is already registered with another architecture`)
      }
      return existing
    }
    const entry: RegisteredModel = {
      name,
      architecture: arch,
      description: options.description,
      createdAt: this.now(),
    }
    await this.store?.put(`models/${name}`, json({ ...entry, description: entry.description ?? null }))
    this.named.set(name, entry)
    this.byName.set(name, [])
    this.safeDispatchEvent('model', { detail: entry })
    return entry
  }

  registerVersion(name: string, model: Model, options: RegisterVersionOptions = {}): Promise<ModelVersion> {
    return this.serial(async () => {
      this.checkStarted()
      checkName(name)
      assertParams(model.architecture, model.params)
      const entry = this.named.get(name) ?? (await this.addArchitecture(name, model.architecture, {}))
      if (architectureKey(entry.architecture) !== architectureKey(model.architecture)) {
        throw new ArchitectureMismatchError(
          `'${name}' is a ${architectureKey(entry.architecture)}, not a ${architectureKey(model.architecture)}`,
        )
      }
      const bytes = encodeModel(model)
      const hash = sha256Hex(bytes)
      const list = this.byName.get(name)!
      const same = list.find((v) => v.hash === hash)
      if (same !== undefined) return same
      let parent: string | undefined
      if (options.parent === undefined) parent = list.at(-1)?.hash
      else if (options.parent !== null) {
        if (!HASH.test(options.parent))
          throw new ConfigError(`parent must be a 64-hex content hash, got ${options.parent}`)
        if (!this.byHash.has(options.parent))
          throw new UnknownVersionError(`parent ${options.parent} is not registered`)
        if (options.parent === hash) throw new ConfigError('a version cannot be its own parent')
        parent = options.parent
      }
      const metadata = structuredCloneJson(options.metadata ?? {})
      const version: ModelVersion = {
        name,
        version: (list.at(-1)?.version ?? 0) + 1,
        hash,
        parent,
        createdAt: this.now(),
        metadata,
      }
      if (this.store !== undefined) {
        if ((await this.store.get(`blobs/${hash}`)) === undefined) await this.store.put(`blobs/${hash}`, bytes)
        await this.store.put(versionKey(name, version.version), json({ ...version, parent: parent ?? null }))
      }
      list.push(version)
      if (!this.byHash.has(hash)) this.byHash.set(hash, version)
      if (this.cacheModels || this.store === undefined) {
        this.params.set(hash, { architecture: entry.architecture, params: model.params.slice() })
      }
      this.safeDispatchEvent('version', { detail: version })
      return version
    })
  }

  models(): RegisteredModel[] {
    return [...this.named.values()]
  }

  model(name: string): RegisteredModel | undefined {
    return this.named.get(name)
  }

  versions(name: string): ModelVersion[] {
    return [...(this.byName.get(name) ?? [])]
  }

  version(ref: VersionRef): ModelVersion | undefined {
    if (typeof ref === 'string') return this.byHash.get(ref)
    const list = this.byName.get(ref.name)
    if (list === undefined) return undefined
    return ref.version === undefined ? list.at(-1) : list.find((v) => v.version === ref.version)
  }

  private resolve(ref: VersionRef): ModelVersion {
    const v = this.version(ref)
    if (v !== undefined) return v
    if (typeof ref !== 'string' && !this.named.has(ref.name)) throw new UnknownModelError(`no model '${ref.name}'`)
    throw new UnknownVersionError(
      typeof ref === 'string'
        ? `no version with hash ${ref}`
        : `no version ${ref.version ?? '(latest)'} of '${ref.name}'`,
    )
  }

  async load(ref: VersionRef): Promise<Model> {
    this.checkStarted()
    const v = this.resolve(ref)
    const cached = this.params.get(v.hash)
    if (cached !== undefined) return { architecture: cached.architecture, params: cached.params.slice() }
    const bytes = await this.store?.get(`blobs/${v.hash}`)
    if (bytes === undefined) throw new UnknownVersionError(`the parameters of ${v.hash} are not stored`)
    const model = decodeModel(bytes, { expectedHash: v.hash })
    if (this.cacheModels) this.params.set(v.hash, { architecture: model.architecture, params: model.params.slice() })
    return model
  }

  lineage(ref: VersionRef): ModelVersion[] {
    const out: ModelVersion[] = []
    const seen = new Set<string>()
    let v: ModelVersion | undefined = this.resolve(ref)
    while (v !== undefined && !seen.has(v.hash)) {
      out.push(v)
      seen.add(v.hash)
      v = v.parent === undefined ? undefined : this.byHash.get(v.parent)
    }
    return out
  }

  state(name: string): ModelState {
    return this.states.get(name) ?? 'idle'
  }

  setState(name: string, state: ModelState): void {
    if (!this.named.has(name)) throw new UnknownModelError(`no model '${name}'`)
    if (!MODEL_STATES.includes(state)) throw new ConfigError(`state must be one of ${MODEL_STATES.join(', ')}`)
    const previous = this.state(name)
    if (previous === state) return
    this.states.set(name, state)
    this.safeDispatchEvent('state', { detail: { name, state, previous } })
  }

  async track<T>(name: string, state: ModelState, fn: () => Promise<T> | T): Promise<T> {
    const previous = this.state(name)
    this.setState(name, state)
    try {
      return await fn()
    } finally {
      this.setState(name, previous)
    }
  }
}

/** Deepest nesting of version metadata (its own object counts one level). */
export const MAX_METADATA_DEPTH = 32
/** Deepest JSON nesting of a stored registry record (a version record holds its metadata). */
const MAX_RECORD_DEPTH = MAX_METADATA_DEPTH + 2

function structuredCloneJson(value: Record<string, JsonValue>): Record<string, JsonValue> {
  let text: string
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new ConfigError('version metadata must be JSON', [], { cause: err })
  }
  if (jsonNestingDepth(text, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH) {
    throw new ConfigError(`version metadata must nest at most ${MAX_METADATA_DEPTH} levels`)
  }
  return JSON.parse(text)
}

/**
 * Creates a model registry: architectures and trained versions by name and version, each
 * version pointing to its parent by content hash (lineage), and an observable state per model
 * (`idle`, `training`, `aggregating`, `evaluating`) as typed events — so several models can
 * share one node. With a `store` it persists everything (call `start()` to load it back).
 *
 * @example
 * ```ts
 * import { createModel, createModelRegistry, memoryRegistryStore, mlp } from '@vain/fl'
 *
 * const registry = createModelRegistry({}, { store: memoryRegistryStore() })
 * await registry.start()
 * registry.addEventListener('state', (e) => console.log(e.detail.name, e.detail.previous, '→', e.detail.state))
 * const v1 = await registry.registerVersion('digits', createModel(mlp(784, [128], 10), { seed: 1 }))
 * const trained = await registry.track('digits', 'training', () => trainSomehow(v1))
 * const v2 = await registry.registerVersion('digits', trained, { metadata: { accuracy: 0.94 } })
 * registry.lineage({ name: 'digits' }).map((v) => v.version) // [2, 1]
 * ```
 */
export function createModelRegistry(
  init: ModelRegistryInit = {},
  components: ModelRegistryComponents = {},
): ModelRegistry {
  return new DefaultModelRegistry(init, components)
}

/**
 * A {@link RegistryStore} in memory (tests, or a registry that only needs the store's
 * lifecycle). Values are copied in and out.
 *
 * @example
 * ```ts
 * import { createModelRegistry, memoryRegistryStore } from '@vain/fl'
 * const store = memoryRegistryStore()
 * const registry = createModelRegistry({}, { store })
 * await registry.start()
 * ```
 */
export function memoryRegistryStore(): RegistryStore & { readonly size: number } {
  const map = new Map<string, Uint8Array>()
  return {
    get size() {
      return map.size
    },
    get: async (key) => map.get(key)?.slice(),
    put: async (key, value) => {
      map.set(key, value.slice())
    },
    keys: async (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)),
  }
}
