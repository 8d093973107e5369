/**
 * Image-folder datasets: `<root>/<class>/<image>`, the class being the subfolder's name. The job
 * spec lists the classes (their order is the label order every node shares), the image size, the
 * channels and the formats allowed; each node reads its own folder. Files are hostile: sizes and
 * dimensions are checked from the header before anything is decoded (a PNG bomb is refused), and
 * every problem is a {@link DataFileError} naming the file.
 * @module
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { z } from 'zod'
import { ConfigError, DataFileError } from '../errors.js'
import { readBounded } from './csv.js'
import type { Dataset } from './dataset.js'

/** Largest side of an image the spec may ask for. */
export const MAX_IMAGE_SIDE = 1024

/** Bounds on an image folder. */
export interface ImageFolderLimits {
  /** Largest image file (bytes, default 16 MiB). */
  maxFileBytes?: number
  /** Most images (default 100,000). */
  maxFiles?: number
  /** Most pixels of a source image, checked from its header before decoding (default 16 Mi: 4096 × 4096). */
  maxSourcePixels?: number
  /** Most feature values of the dataset, images × C × H × W (default 64 Mi: 256 MiB of float32). */
  maxValues?: number
}

/** Default {@link ImageFolderLimits}. */
export const DEFAULT_IMAGE_LIMITS: Required<ImageFolderLimits> = {
  maxFileBytes: 16 * 1024 * 1024,
  maxFiles: 100_000,
  maxSourcePixels: 4096 * 4096,
  maxValues: 64 * 1024 * 1024,
}

const side = z.number().int().min(1).max(MAX_IMAGE_SIDE)

/**
 * An image-folder dataset's schema (the `params` of a job's `dataset` with `format: "image-folder"`).
 *
 * - `classes`: the subfolder names, in label order (a node need not have every class);
 * - `height`, `width`: the size the model sees; `resize: "none"` (default) refuses images of
 *   another size, `"bilinear"` scales them;
 * - `channels`: `"grayscale"` (1 value per pixel, luma) or `"rgb"` (3); alpha is ignored;
 * - `formats`: `["png"]` (default), `"jpeg"` too if listed;
 * - `normalization`: `"unit"` (default: values in 0…1) or per-channel `{ mean, std }` applied after it.
 *
 * Rows are the pixels in channel, row, column order (NCHW), `channels × height × width` values:
 * the input of a CNN with `inputShape [C, H, W]`, or of an MLP.
 */
export const ImageFolderDatasetSchema = z
  .strictObject({
    format: z.literal('image-folder'),
    classes: z
      .array(
        z
          .string()
          .min(1)
          .max(128)
          .regex(/^[^/\\\0]+$/, 'a folder name')
          .refine((s) => s !== '.' && s !== '..', 'a folder name'),
      )
      .min(2)
      .max(65_536),
    height: side,
    width: side,
    channels: z.enum(['grayscale', 'rgb']),
    formats: z
      .array(z.enum(['png', 'jpeg']))
      .min(1)
      .default(['png']),
    resize: z.enum(['none', 'bilinear']).default('none'),
    normalization: z
      .union([
        z.literal('unit'),
        z.strictObject({
          mean: z.array(z.number().finite()).min(1).max(3),
          std: z.array(z.number().finite().positive()).min(1).max(3),
        }),
      ])
      .default('unit'),
  })
  .superRefine((s, ctx) => {
    if (new Set(s.classes).size !== s.classes.length)
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'classes must be distinct' })
    const C = s.channels === 'rgb' ? 3 : 1
    if (s.normalization !== 'unit' && (s.normalization.mean.length !== C || s.normalization.std.length !== C))
      ctx.addIssue({
        code: 'custom',
        path: ['normalization'],
        message: `needs one mean and one std per channel (${C})`,
      })
  })
export type ImageFolderDatasetSpec = z.output<typeof ImageFolderDatasetSchema>
export type ImageFolderDatasetSpecInput = z.input<typeof ImageFolderDatasetSchema>

/** Parses an image-folder dataset spec, or throws {@link ConfigError} naming every problem. */
export function parseImageFolderDatasetSpec(params: unknown): ImageFolderDatasetSpec {
  const r = ImageFolderDatasetSchema.safeParse(params)
  if (!r.success)
    throw new ConfigError(
      'invalid image-folder dataset',
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  return r.data
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const EXTENSIONS: Record<string, 'png' | 'jpeg'> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' }

/** A decoded image: RGBA, 8 bits per channel. */
interface Rgba {
  width: number
  height: number
  data: Uint8Array
}

/**
 * Decodes one image file's bytes with the header checked first: a PNG's IHDR (size, bit depth,
 * colour type; interlaced PNGs are refused, their decoder's inflate is not bounded) or a JPEG's
 * frame header, at most `maxSourcePixels`; pngjs inflates at most the size the header implies.
 * Throws only {@link DataFileError}.
 */
export function decodeImage(
  bytes: Uint8Array,
  file: string,
  allowed: readonly ('png' | 'jpeg')[],
  maxSourcePixels: number,
): Rgba {
  const isPng = PNG_SIGNATURE.every((b, i) => bytes[i] === b)
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8
  if (!isPng && !isJpeg) throw new DataFileError('UnsupportedImage', file, undefined, 'not a PNG or JPEG image')
  const kind = isPng ? 'png' : 'jpeg'
  if (!allowed.includes(kind))
    throw new DataFileError(
      'UnsupportedImage',
      file,
      undefined,
      `a ${kind.toUpperCase()} image; the job allows ${allowed.join(', ')}`,
    )
  if (isPng) {
    // IHDR must come first: length 13, type, width, height, depth, colour type, compression, filter, interlace
    if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR')
      throw new DataFileError('BadImage', file, undefined, 'a PNG without its IHDR header')
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const width = view.getUint32(16)
    const height = view.getUint32(20)
    if (width === 0 || height === 0) throw new DataFileError('BadImage', file, undefined, 'a PNG of 0 pixels')
    if (width * height > maxSourcePixels)
      throw new DataFileError(
        'ImageTooLarge',
        file,
        undefined,
        `${width}×${height} pixels, more than ${maxSourcePixels}`,
      )
    if (bytes[28] !== 0)
      throw new DataFileError('UnsupportedImage', file, undefined, 'interlaced PNGs are not supported')
    try {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      if (png.width !== width || png.height !== height) throw new Error('size differs from the header')
      return { width, height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, width * height * 4) }
    } catch (err) {
      throw new DataFileError('BadImage', file, undefined, `not a valid PNG: ${(err as Error)?.message ?? err}`)
    }
  }
  const size = jpegSize(bytes)
  if (size === undefined) throw new DataFileError('BadImage', file, undefined, 'a JPEG without a frame header')
  if (size.width * size.height > maxSourcePixels)
    throw new DataFileError(
      'ImageTooLarge',
      file,
      undefined,
      `${size.width}×${size.height} pixels, more than ${maxSourcePixels}`,
    )
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      maxResolutionInMP: maxSourcePixels / 1e6,
      maxMemoryUsageInMB: Math.ceil((maxSourcePixels * 8) / 2 ** 20) + 16,
    })
    return { width: img.width, height: img.height, data: img.data }
  } catch (err) {
    throw new DataFileError('BadImage', file, undefined, `not a valid JPEG: ${(err as Error)?.message ?? err}`)
  }
}

/** A baseline/progressive JPEG's size from its SOF marker, without decoding. */
function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined
    const marker = b[i + 1]!
    if (marker === 0xff) {
      i++
      continue
    }
    const len = (b[i + 2]! << 8) | b[i + 3]!
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! }
    if (len < 2) return undefined
    i += 2 + len
  }
  return undefined
}

/** Writes one image into `out` (C×H×W floats): converted, resized, scaled to 0…1, normalized. */
function toFeatures(img: Rgba, spec: ImageFolderDatasetSpec, file: string, out: Float32Array): void {
  const { height: H, width: W } = spec
  if (spec.resize === 'none' && (img.width !== W || img.height !== H))
    throw new DataFileError(
      'WrongImageSize',
      file,
      undefined,
      `${img.width}×${img.height} pixels; the job's images are ${W}×${H} (or set resize: "bilinear")`,
    )
  const C = spec.channels === 'rgb' ? 3 : 1
  const sample = (x: number, y: number, ch: number): number => img.data[(y * img.width + x) * 4 + ch]!
  const pixel = (x: number, y: number, c: number): number =>
    C === 3 ? sample(x, y, c) : 0.299 * sample(x, y, 0) + 0.587 * sample(x, y, 1) + 0.114 * sample(x, y, 2)
  const norm = spec.normalization
  for (let c = 0; c < C; c++) {
    const mean = norm === 'unit' ? 0 : norm.mean[c]!
    const std = norm === 'unit' ? 1 : norm.std[c]!
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let v: number
        if (img.width === W && img.height === H) v = pixel(x, y, c)
        else {
          // bilinear, pixel centres aligned
          const sx = Math.min(Math.max(((x + 0.5) * img.width) / W - 0.5, 0), img.width - 1)
          const sy = Math.min(Math.max(((y + 0.5) * img.height) / H - 0.5, 0), img.height - 1)
          const x0 = Math.floor(sx)
          const y0 = Math.floor(sy)
          const x1 = Math.min(x0 + 1, img.width - 1)
          const y1 = Math.min(y0 + 1, img.height - 1)
          const fx = sx - x0
          const fy = sy - y0
          v =
            (pixel(x0, y0, c) * (1 - fx) + pixel(x1, y0, c) * fx) * (1 - fy) +
            (pixel(x0, y1, c) * (1 - fx) + pixel(x1, y1, c) * fx) * fy
        }
        out[(c * H + y) * W + x] = (v / 255 - mean) / std
      }
    }
  }
}

/**
 * Reads a node's image folder with a job's spec: every `<root>/<class>/<file>` (files and folders
 * starting with `.` are skipped); a subfolder that is not one of the job's classes, a file at the
 * root, a format the job does not allow, an image too large or of the wrong size is refused.
 * Images are read in sorted order (class, then file name). Throws only {@link DataFileError}.
 *
 * @example
 * ```ts
 * const local = loadImageFolderDataset('/data/pets', parseImageFolderDatasetSpec(job.dataset.params))
 * ```
 */
export function loadImageFolderDataset(
  root: string,
  spec: ImageFolderDatasetSpec,
  limits: ImageFolderLimits = {},
): Dataset {
  const lim = { ...DEFAULT_IMAGE_LIMITS, ...limits }
  const C = spec.channels === 'rgb' ? 3 : 1
  const F = C * spec.height * spec.width
  const classIndex = new Map(spec.classes.map((c, i) => [c, i]))
  const list = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((e) => !e.name.startsWith('.'))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    } catch (err) {
      throw new DataFileError(
        'NotFound',
        dir,
        undefined,
        `cannot read the folder: ${(err as NodeJS.ErrnoException).code ?? err}`,
      )
    }
  }
  const files: Array<{ path: string; label: number }> = []
  for (const entry of list(root)) {
    const path = join(root, entry.name)
    const isDir =
      entry.isDirectory() ||
      (entry.isSymbolicLink() && statSync(path, { throwIfNoEntry: false })?.isDirectory() === true)
    if (!isDir)
      throw new DataFileError(
        'UnknownClass',
        path,
        undefined,
        'a file at the root: images go in one subfolder per class',
      )
    const label = classIndex.get(entry.name)
    if (label === undefined)
      throw new DataFileError(
        'UnknownClass',
        path,
        undefined,
        `folder ${JSON.stringify(entry.name)} is not one of the job's classes`,
      )
    for (const f of list(path)) {
      const file = join(path, f.name)
      const ext = /\.[^.]+$/.exec(f.name)?.[0].toLowerCase() ?? ''
      const format = EXTENSIONS[ext]
      if (format === undefined || !spec.formats.includes(format))
        throw new DataFileError(
          'UnsupportedImage',
          file,
          undefined,
          `not an image the job allows (${spec.formats.join(', ')})`,
        )
      if (files.length >= lim.maxFiles)
        throw new DataFileError('TooManyFiles', root, undefined, `more than ${lim.maxFiles} images`)
      files.push({ path: file, label })
    }
  }
  if (files.length === 0) throw new DataFileError('Empty', root, undefined, 'no images')
  if (files.length * F > lim.maxValues)
    throw new DataFileError(
      'TooManyValues',
      root,
      undefined,
      `${files.length} images of ${F} values: more than ${lim.maxValues}`,
    )
  const x = new Float32Array(files.length * F)
  const labels = new Int32Array(files.length)
  files.forEach(({ path, label }, k) => {
    const img = decodeImage(readBounded(path, lim.maxFileBytes), path, spec.formats, lim.maxSourcePixels)
    toFeatures(img, spec, path, x.subarray(k * F, (k + 1) * F))
    labels[k] = label
  })
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i]))
      throw new DataFileError(
        'BadImage',
        files[Math.floor(i / F)]!.path,
        undefined,
        'a value out of float32 range after normalization',
      )
  return { x, labels, size: files.length, features: F, numClasses: spec.classes.length }
}
