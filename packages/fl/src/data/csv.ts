/**
 * Tabular CSV datasets: the job spec says which columns are features, which one is the label, the
 * classes and the normalization (so every node reads its own file the same way); each node reads
 * its own file. Files are hostile: bounded in bytes, rows and columns, every cell checked, and
 * every problem a {@link DataFileError} naming `file:line`.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { z } from 'zod'
import { ConfigError, DataFileError } from '../errors.js'
import type { Dataset } from './dataset.js'

/** Most columns a CSV dataset may have (in the file and in the spec). */
export const MAX_CSV_COLUMNS = 10_000

/** Bounds on what a node reads from its local data files. */
export interface DataFileLimits {
  /** Largest CSV file, or largest image file (bytes). Default 256 MiB for CSV, 16 MiB per image. */
  maxFileBytes?: number
  /** Most data rows of a CSV file (default 1,000,000). */
  maxRows?: number
  /** Most fields of a CSV record (default {@link MAX_CSV_COLUMNS}). */
  maxColumns?: number
  /** Most feature values of the whole dataset, rows × features (default 64 Mi: 256 MiB of float32). */
  maxValues?: number
}

/** Default {@link DataFileLimits} of CSV files. */
export const DEFAULT_CSV_LIMITS: Required<DataFileLimits> = {
  maxFileBytes: 256 * 1024 * 1024,
  maxRows: 1_000_000,
  maxColumns: MAX_CSV_COLUMNS,
  maxValues: 64 * 1024 * 1024,
}

const finite = z.number().finite()
/** A column: its name in the header, or its 0-based index. */
const ColumnSchema = z.union([
  z.string().min(1).max(256),
  z
    .number()
    .int()
    .min(0)
    .max(MAX_CSV_COLUMNS - 1),
])

/**
 * How features are scaled, with the statistics in the spec so that every node applies the same
 * transform to its own data: `none`, `min-max` (`(v − min) / (max − min)`) or `z-score`
 * (`(v − mean) / std`), one value per feature.
 */
export const NormalizationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z.strictObject({
    kind: z.literal('min-max'),
    min: z.array(finite).max(MAX_CSV_COLUMNS),
    max: z.array(finite).max(MAX_CSV_COLUMNS),
  }),
  z.strictObject({
    kind: z.literal('z-score'),
    mean: z.array(finite).max(MAX_CSV_COLUMNS),
    std: z.array(finite.positive()).max(MAX_CSV_COLUMNS),
  }),
])
export type Normalization = z.output<typeof NormalizationSchema>

/**
 * A CSV dataset's schema (the `params` of a job's `dataset` with `format: "csv"`).
 *
 * - `features`: the feature columns, by header name (needs `header: true`) or 0-based index, in
 *   the order the model sees them;
 * - `label`: the label column; `classes` lists the label values (class `i` is `classes[i]`), or
 *   `numClasses` says the labels are the integers `0 … numClasses − 1`;
 * - `normalization` (default none), `delimiter` (default `,`), `header` (default true).
 *
 * @example
 * ```json
 * { "format": "csv", "features": ["x1", "x2"], "label": "species", "classes": ["a", "b", "c"],
 *   "normalization": { "kind": "z-score", "mean": [0, 1], "std": [1, 2] } }
 * ```
 */
export const CsvDatasetSchema = z
  .strictObject({
    format: z.literal('csv'),
    header: z.boolean().default(true),
    delimiter: z.enum([',', ';', '\t', '|']).default(','),
    features: z.array(ColumnSchema).min(1).max(MAX_CSV_COLUMNS),
    label: ColumnSchema,
    classes: z.array(z.string().min(1).max(256)).min(2).max(65_536).optional(),
    numClasses: z.number().int().min(2).max(65_536).optional(),
    normalization: NormalizationSchema.default({ kind: 'none' }),
  })
  .superRefine((s, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    if ((s.classes === undefined) === (s.numClasses === undefined))
      issue(['classes'], 'give either classes (the label values) or numClasses (integer labels), not both')
    if (s.classes !== undefined && new Set(s.classes).size !== s.classes.length)
      issue(['classes'], 'classes must be distinct')
    const columns = [...s.features, s.label]
    if (new Set(columns).size !== columns.length)
      issue(['features'], 'feature columns must be distinct and must not include the label column')
    if (!s.header && columns.some((c) => typeof c === 'string'))
      issue(['features'], 'without a header, columns are 0-based indices')
    const n = s.normalization
    const lengths =
      n.kind === 'min-max'
        ? { min: n.min.length, max: n.max.length }
        : n.kind === 'z-score'
          ? { mean: n.mean.length, std: n.std.length }
          : {}
    for (const [key, len] of Object.entries(lengths))
      if (len !== s.features.length)
        issue(['normalization', key], `needs one value per feature (${s.features.length}), got ${len}`)
    if (n.kind === 'min-max')
      n.min.forEach((lo, i) => {
        if (!(lo < (n.max[i] ?? Number.POSITIVE_INFINITY))) issue(['normalization', 'max', i], 'max must be > min')
      })
  })
export type CsvDatasetSpec = z.output<typeof CsvDatasetSchema>
export type CsvDatasetSpecInput = z.input<typeof CsvDatasetSchema>

/** Parses a CSV dataset spec, or throws {@link ConfigError} naming every problem. */
export function parseCsvDatasetSpec(params: unknown): CsvDatasetSpec {
  const r = CsvDatasetSchema.safeParse(params)
  if (!r.success)
    throw new ConfigError(
      'invalid csv dataset',
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  return r.data
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

/** A quoted field's cell: shows at most 40 characters. */
const show = (cell: string) => JSON.stringify(cell.length > 40 ? `${cell.slice(0, 40)}…` : cell)

/**
 * Reads a CSV dataset from its text (or UTF-8 bytes) with a spec: RFC 4180 fields (quotes, `""`
 * escapes, CRLF or LF), blank lines skipped, a UTF-8 BOM ignored. Every record must have as many
 * fields as the header (or the first record); feature cells must be decimal numbers, label cells a
 * listed class (or an integer class below `numClasses`). Throws only {@link DataFileError}
 * (naming `file:line`).
 *
 * @example
 * ```ts
 * const ds = parseCsvDataset('x,y,label\n1,2,a\n3,4,b\n', parseCsvDatasetSpec({
 *   format: 'csv', features: ['x', 'y'], label: 'label', classes: ['a', 'b'] }), { file: 'mem.csv' })
 * ```
 */
export function parseCsvDataset(
  input: string | Uint8Array,
  spec: CsvDatasetSpec,
  options: { file?: string; limits?: DataFileLimits } = {},
): Dataset {
  const file = options.file ?? '<csv>'
  const limits = { ...DEFAULT_CSV_LIMITS, ...options.limits }
  let text: string
  if (typeof input === 'string') text = input
  else {
    if (input.length > limits.maxFileBytes)
      throw new DataFileError(
        'FileTooLarge',
        file,
        undefined,
        `${input.length} bytes, more than ${limits.maxFileBytes}`,
      )
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input)
    } catch {
      throw new DataFileError('NotUtf8', file, undefined, 'not UTF-8 text')
    }
  }
  if (text.length > limits.maxFileBytes)
    throw new DataFileError('FileTooLarge', file, undefined, `more than ${limits.maxFileBytes} bytes`)
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)

  const F = spec.features.length
  const classIndex = spec.classes !== undefined ? new Map(spec.classes.map((c, i) => [c, i])) : undefined
  const numClasses = spec.classes?.length ?? (spec.numClasses as number)
  const scale = scaler(spec.normalization, F)
  let featureCols: number[] | undefined
  let labelCol = -1
  let width = -1
  const x: number[] = []
  const labels: number[] = []

  const onRecord = (fields: string[], line: number): void => {
    if (fields.length === 1 && fields[0]!.trim() === '') return // a blank line
    if (featureCols === undefined) {
      width = fields.length
      if (spec.header) {
        const names = fields.map((f) => f.trim())
        const index = (c: string | number, what: string): number => {
          const i = typeof c === 'number' ? c : names.indexOf(c)
          if (i < 0 || i >= width)
            throw new DataFileError(
              'BadHeader',
              file,
              line,
              typeof c === 'number'
                ? `the ${what} column ${c} is past the ${width} columns of the header`
                : `the header has no ${what} column ${show(c)}`,
            )
          return i
        }
        featureCols = spec.features.map((c) => index(c, 'feature'))
        labelCol = index(spec.label, 'label')
        return
      }
      const beyond = [...spec.features, spec.label].find((c) => (c as number) >= width)
      if (beyond !== undefined)
        throw new DataFileError('FieldCount', file, line, `column ${beyond} is past the ${width} fields of the record`)
      featureCols = spec.features as number[]
      labelCol = spec.label as number
    }
    if (fields.length !== width)
      throw new DataFileError('FieldCount', file, line, `${fields.length} fields, expected ${width}`)
    if (labels.length >= limits.maxRows)
      throw new DataFileError('TooManyRows', file, line, `more than ${limits.maxRows} rows`)
    if ((labels.length + 1) * F > limits.maxValues)
      throw new DataFileError('TooManyValues', file, line, `more than ${limits.maxValues} feature values`)
    const cols = featureCols
    for (let f = 0; f < F; f++) {
      const cell = fields[cols[f]!]!.trim()
      const v = NUMBER.test(cell) ? Number(cell) : Number.NaN
      if (!Number.isFinite(v))
        throw new DataFileError(
          'NotNumeric',
          file,
          line,
          `feature ${show(String(spec.features[f]))} is not a number (${show(cell)})`,
        )
      x.push(scale(v, f))
    }
    const cell = fields[labelCol]!.trim()
    if (cell === '') throw new DataFileError('MissingLabel', file, line, 'the label is missing')
    let y: number | undefined
    if (classIndex !== undefined) y = classIndex.get(cell)
    else if (/^\d{1,6}$/.test(cell) && Number(cell) < numClasses) y = Number(cell)
    if (y === undefined)
      throw new DataFileError(
        'UnknownClass',
        file,
        line,
        classIndex !== undefined
          ? `label ${show(cell)} is not one of the job's classes`
          : `label ${show(cell)} is not a class in 0..${numClasses - 1}`,
      )
    labels.push(y)
  }

  readRecords(text, spec.delimiter, limits.maxColumns, file, onRecord)
  if (labels.length === 0) throw new DataFileError('Empty', file, undefined, 'no data rows')
  const xs = Float32Array.from(x)
  for (let i = 0; i < xs.length; i++)
    if (!Number.isFinite(xs[i]))
      throw new DataFileError(
        'NotNumeric',
        file,
        undefined,
        `row ${Math.floor(i / F) + 1}: feature ${show(String(spec.features[i % F]))} is out of float32 range after normalization`,
      )
  return { x: xs, labels: Int32Array.from(labels), size: labels.length, features: F, numClasses }
}

function scaler(n: Normalization, F: number): (v: number, f: number) => number {
  if (n.kind === 'min-max') {
    const lo = Float64Array.from(n.min)
    const span = Float64Array.from(n.max, (hi, i) => hi - lo[i]!)
    if (lo.length !== F) throw new ConfigError('min-max normalization needs one value per feature')
    return (v, f) => (v - lo[f]!) / span[f]!
  }
  if (n.kind === 'z-score') {
    const mean = Float64Array.from(n.mean)
    const std = Float64Array.from(n.std)
    if (mean.length !== F) throw new ConfigError('z-score normalization needs one value per feature')
    return (v, f) => (v - mean[f]!) / std[f]!
  }
  return (v) => v
}

/** Splits RFC 4180 text into records, calling `onRecord(fields, lineWhereItStarts)` for each. */
function readRecords(
  text: string,
  delimiter: string,
  maxColumns: number,
  file: string,
  onRecord: (fields: string[], line: number) => void,
): void {
  const d = delimiter.charCodeAt(0)
  const n = text.length
  let i = 0
  let line = 1
  while (i < n) {
    const start = line
    const fields: string[] = []
    for (;;) {
      // one field
      let value: string
      if (text.charCodeAt(i) === 34 /* " */) {
        let out = ''
        let j = i + 1
        for (;;) {
          const q = text.indexOf('"', j)
          if (q < 0) throw new DataFileError('UnterminatedQuote', file, start, 'a quoted field is never closed')
          out += text.slice(j, q)
          if (text.charCodeAt(q + 1) === 34) {
            out += '"'
            j = q + 2
          } else {
            j = q + 1
            break
          }
        }
        for (let k = i; k < j; k++) if (text.charCodeAt(k) === 10) line++
        // anything between the closing quote and the delimiter/newline belongs to the field
        let k = j
        while (k < n) {
          const c = text.charCodeAt(k)
          if (c === d || c === 10 || c === 13) break
          k++
        }
        value = out + text.slice(j, k)
        i = k
      } else {
        let k = i
        while (k < n) {
          const c = text.charCodeAt(k)
          if (c === d || c === 10 || c === 13) break
          k++
        }
        value = text.slice(i, k)
        i = k
      }
      fields.push(value)
      if (fields.length > maxColumns)
        throw new DataFileError('TooManyColumns', file, start, `more than ${maxColumns} fields`)
      if (i < n && text.charCodeAt(i) === d) {
        i++
        continue
      }
      break
    }
    // end of record: CRLF, LF, lone CR or end of text
    if (i < n && text.charCodeAt(i) === 13) i++
    if (i < n && text.charCodeAt(i) === 10) i++
    line++
    onRecord(fields, start)
  }
}

/**
 * Reads a node's CSV file with a job's spec (see {@link parseCsvDataset}); the file's size is
 * checked before it is read. Throws only {@link DataFileError}.
 *
 * @example
 * ```ts
 * const local = loadCsvDataset('/data/iris-a.csv', parseCsvDatasetSpec(job.dataset.params))
 * ```
 */
export function loadCsvDataset(path: string, spec: CsvDatasetSpec, limits: DataFileLimits = {}): Dataset {
  const max = limits.maxFileBytes ?? DEFAULT_CSV_LIMITS.maxFileBytes
  return parseCsvDataset(readBounded(path, max), spec, { file: path, limits })
}

/**
 * A whole file, refused ({@link DataFileError} `FileTooLarge`) when larger than `maxBytes` — also
 * when it grows while being read — or `NotFound` when it cannot be opened as a file.
 */
export function readBounded(path: string, maxBytes: number): Uint8Array {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    throw new DataFileError('NotFound', path, undefined, `cannot open: ${(err as NodeJS.ErrnoException).code ?? err}`)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new DataFileError('NotFound', path, undefined, 'not a regular file')
    if (st.size > maxBytes)
      throw new DataFileError('FileTooLarge', path, undefined, `${st.size} bytes, more than ${maxBytes}`)
    const buf = new Uint8Array(Math.min(st.size, maxBytes) + 1)
    let got = 0
    for (;;) {
      const r = readSync(fd, buf, got, buf.length - got, null)
      if (r === 0) break
      got += r
      if (got > maxBytes) throw new DataFileError('FileTooLarge', path, undefined, `more than ${maxBytes} bytes`)
    }
    return buf.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}
