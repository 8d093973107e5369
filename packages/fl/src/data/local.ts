/**
 * A job's dataset on a node's own files: the job spec (shared by every node) says the format and
 * schema in `dataset.params`; each node says where its own copy lives (`vain start`'s config
 * `data: { "<dataset name>": "/path" }`), never in the spec.
 * @module
 */
import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { CsvDatasetSchema, type DataFileLimits, loadCsvDataset } from './csv.js'
import type { Dataset } from './dataset.js'
import { ImageFolderDatasetSchema, type ImageFolderLimits, loadImageFolderDataset } from './image-folder.js'

/** The `params` of a job's dataset read from local files: a CSV file or an image folder. */
export const LocalDatasetSchema = z.discriminatedUnion('format', [CsvDatasetSchema, ImageFolderDatasetSchema])
export type LocalDatasetSpec = z.output<typeof LocalDatasetSchema>
export type LocalDatasetSpecInput = z.input<typeof LocalDatasetSchema>

/** Whether a job's dataset is read from local files (its params name a `format`). */
export function isLocalDataset(dataset: { params?: Record<string, unknown> }): boolean {
  return dataset.params !== undefined && 'format' in dataset.params
}

/**
 * The local-file schema of a job's dataset (`dataset.params`), validated (strict: an unknown key
 * is an error); throws {@link ConfigError} naming every problem.
 *
 * @example
 * ```ts
 * const spec = parseLocalDatasetSpec(job.dataset.params) // { format: 'csv', features: [...], ... }
 * ```
 */
export function parseLocalDatasetSpec(params: unknown): LocalDatasetSpec {
  const r = LocalDatasetSchema.safeParse(params)
  if (!r.success)
    throw new ConfigError(
      'invalid local dataset (dataset.params)',
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  return r.data
}

/** Limits of {@link loadLocalDataset}: CSV and image-folder bounds (each with its defaults). */
export interface LocalDatasetLimits {
  csv?: DataFileLimits
  images?: ImageFolderLimits
}

/**
 * Reads a node's local data for a job's dataset schema: a CSV file or an image folder at `path`.
 * Synchronous (the node caches the result per job dataset). Throws {@link ConfigError} for a bad
 * schema and `DataFileError` (naming the file, and the line for CSV) for bad files.
 *
 * @example
 * ```ts
 * const data = loadLocalDataset(job.dataset.params, '/data/iris-a.csv')
 * await trainer.train(model, data, { epochs: 1, batchSize: 16, lr: 0.1 })
 * ```
 */
export function loadLocalDataset(params: unknown, path: string, limits: LocalDatasetLimits = {}): Dataset {
  const spec = parseLocalDatasetSpec(params)
  return spec.format === 'csv'
    ? loadCsvDataset(path, spec, limits.csv)
    : loadImageFolderDataset(path, spec, limits.images)
}
