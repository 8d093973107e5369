/**
 * The node's own data for a job: an MNIST shard for `dataset: { name: "mnist" }` jobs, or the
 * node's own files for jobs whose `dataset.params` name a format (`csv`, `image-folder`), read
 * from the path the node's config gives for `dataset.name` with the schema the job gives.
 * @module
 */
import { type Dataset, isLocalDataset, type JobSpec, loadLocalDataset } from '@vain/fl'
import type { AppConfig } from './config.js'
import type { Logger } from './logger.js'

/** The node config's data section, split: an MNIST shard and the paths of local datasets by name. */
export interface DataSources {
  mnist?: { shard: number; shards: number; alpha: number; seed: number }
  paths: Record<string, string>
}

/** Splits the config's `data` section (either form) into {@link DataSources}. */
export function dataSources(data: AppConfig['data']): DataSources {
  if (data === undefined) return { paths: {} }
  if (typeof (data as { shards?: unknown }).shards === 'number') {
    const { shard, shards, alpha, seed } = data as { shard: number; shards: number; alpha: number; seed: number }
    return { mnist: { shard, shards, alpha, seed }, paths: {} }
  }
  const out: DataSources = { paths: {} }
  for (const [name, source] of Object.entries(data as Record<string, unknown>)) {
    if (typeof source === 'string') out.paths[name] = source
    else if (name === 'mnist') out.mnist = source as NonNullable<DataSources['mnist']>
  }
  return out
}

/** Local datasets a node keeps loaded at once (one per job dataset schema). */
const MAX_LOADED = 8

/**
 * Resolves a job's dataset to this node's data, or undefined when it has none for that job:
 * MNIST jobs get `mnist` (the shard), local-file jobs the file (or folder) at `paths[dataset.name]`
 * read with the job's schema — loaded on first use, then kept (per name and schema, the last
 * {@link MAX_LOADED}). A bad schema or bad file is logged once (the typed error names the file and
 * line) and the node does not train that job.
 */
export function localDataResolver(init: {
  mnist?: Dataset
  paths: Record<string, string>
  log: Logger
}): (spec: JobSpec) => Dataset | undefined {
  const { mnist, paths, log } = init
  const loaded = new Map<string, Dataset | Error>()
  return (spec) => {
    const { name, params } = spec.dataset
    if (!isLocalDataset(spec.dataset)) return name === 'mnist' ? mnist : undefined
    const path = paths[name]
    if (path === undefined) return undefined
    const key = `${name}\n${JSON.stringify(params)}`
    let entry = loaded.get(key)
    if (entry === undefined) {
      try {
        const started = performance.now()
        entry = loadLocalDataset(params, path)
        log.info('local data loaded', {
          dataset: name,
          format: params.format,
          path,
          samples: entry.size,
          features: entry.features,
          classes: entry.numClasses,
          ms: Math.round(performance.now() - started),
        })
      } catch (err) {
        entry = err instanceof Error ? err : new Error(String(err))
        log.warn('cannot use local data: this node does not train the job', {
          dataset: name,
          job: spec.name,
          error: entry.name,
          message: entry.message,
        })
      }
      loaded.set(key, entry)
      if (loaded.size > MAX_LOADED) loaded.delete(loaded.keys().next().value as string)
    }
    return entry instanceof Error ? undefined : entry
  }
}
