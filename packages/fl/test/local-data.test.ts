/**
 * Local datasets: CSV files and image folders read with a job's schema, hostile files refused
 * with typed errors naming the file (and line). PNG fixtures are written with pngjs here.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import fc from 'fast-check'
import jpeg from 'jpeg-js'
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  type CsvDatasetSpecInput,
  createLocalTrainer,
  createModel,
  DataFileError,
  decodeImage,
  isLocalDataset,
  JobSpecSchema,
  loadLocalDataset,
  mlp,
  parseCsvDataset,
  parseCsvDatasetSpec,
  parseImageFolderDatasetSpec,
  parseLocalDatasetSpec,
} from '../src/index.js'

const csvSpec = (over: Partial<CsvDatasetSpecInput> = {}) =>
  parseCsvDatasetSpec({ format: 'csv', features: ['a', 'b'], label: 'y', classes: ['cat', 'dog'], ...over })

/** The DataFileError `fn` throws (fails the test if it throws anything else or nothing). */
function dataError(fn: () => unknown): DataFileError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DataFileError)
    return err as DataFileError
  }
  throw new Error('expected a DataFileError')
}

describe('CSV datasets', () => {
  it('reads features by header name in the spec order, labels by class, quotes and CRLF', () => {
    const text = '\ufeffb,"a",y,extra\r\n2,1,dog,x\r\n\r\n"4.5",-3e-1,"cat","q,""uoted"""\n'
    const ds = parseCsvDataset(text, csvSpec())
    expect(ds.size).toBe(2)
    expect(ds.features).toBe(2)
    expect(ds.numClasses).toBe(2)
    expect(Array.from(ds.x)).toEqual([1, 2, Math.fround(-0.3), 4.5])
    expect(Array.from(ds.labels)).toEqual([1, 0])
  })

  it('reads columns by index without a header, integer labels with numClasses', () => {
    const spec = parseCsvDatasetSpec({
      format: 'csv',
      header: false,
      delimiter: ';',
      features: [2, 0],
      label: 1,
      numClasses: 3,
    })
    const ds = parseCsvDataset('1;2;3\n4;0;6\n', spec)
    expect(Array.from(ds.x)).toEqual([3, 1, 6, 4])
    expect(Array.from(ds.labels)).toEqual([2, 0])
    expect(dataError(() => parseCsvDataset('1;3;3\n', spec)).code).toBe('UnknownClass')
  })

  it('applies the spec normalization (min-max, z-score)', () => {
    const mm = csvSpec({ normalization: { kind: 'min-max', min: [0, 10], max: [2, 20] } })
    expect(Array.from(parseCsvDataset('a,b,y\n1,15,cat\n', mm).x)).toEqual([0.5, 0.5])
    const z = csvSpec({ normalization: { kind: 'z-score', mean: [1, 0], std: [2, 4] } })
    expect(Array.from(parseCsvDataset('a,b,y\n5,-2,cat\n', z).x)).toEqual([2, -0.5])
  })

  it('refuses bad cells with the file and line', () => {
    const file = 'shard.csv'
    const cases: Array<[string, string, RegExp]> = [
      ['a,b,y\n1,2,cat\n1,abc,dog\n', 'NotNumeric', /shard\.csv:3: feature "b" is not a number \("abc"\)/],
      ['a,b,y\n1,,cat\n', 'NotNumeric', /shard\.csv:2:/],
      ['a,b,y\n1,0x10,cat\n', 'NotNumeric', /shard\.csv:2:/],
      ['a,b,y\n1,Infinity,cat\n', 'NotNumeric', /shard\.csv:2:/],
      ['a,b,y\n1,2,cat\n1,2,\n', 'MissingLabel', /shard\.csv:3: the label is missing/],
      ['a,b,y\n1,2,cow\n', 'UnknownClass', /shard\.csv:2: label "cow" is not one of the job's classes/],
      ['a,b,y\n1,2\n', 'FieldCount', /shard\.csv:2: 2 fields, expected 3/],
      ['a,c,y\n1,2,cat\n', 'BadHeader', /shard\.csv:1: the header has no feature column "b"/],
      ['a,b,y\n"1,2,cat\n', 'UnterminatedQuote', /shard\.csv:2:/],
      ['a,b,y\n', 'Empty', /no data rows/],
      ['', 'Empty', /no data rows/],
      ['a,b,y\n1,1e39,cat\n', 'NotNumeric', /out of float32 range/],
    ]
    for (const [text, code, message] of cases) {
      const err = dataError(() => parseCsvDataset(text, csvSpec(), { file }))
      expect(err.code, text).toBe(code)
      expect(err.message, text).toMatch(message)
      expect(err.file).toBe(file)
    }
    // a quoted multi-line field: the error names the line where the record starts
    const err = dataError(() => parseCsvDataset('a,b,y\n1,2,"c\nat"\n3,x,dog\n', csvSpec(), { file }))
    expect(err.message).toMatch(/^shard\.csv:2: label "c\\nat"/)
    expect(dataError(() => parseCsvDataset('a,b,y\n1,2,"ca\nt"\n3,x,dog\n', csvSpec(), { file })).line).toBe(2)
  })

  it('refuses files past the limits before reading them whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vain-csv-'))
    try {
      const file = join(dir, 'big.csv')
      writeFileSync(file, `a,b,y\n${'1,2,cat\n'.repeat(1000)}`)
      const spec = { format: 'csv', features: ['a', 'b'], label: 'y', classes: ['cat', 'dog'] }
      expect(loadLocalDataset(spec, file).size).toBe(1000)
      expect(dataError(() => loadLocalDataset(spec, file, { csv: { maxFileBytes: 100 } })).code).toBe('FileTooLarge')
      expect(dataError(() => loadLocalDataset(spec, file, { csv: { maxRows: 999 } })).code).toBe('TooManyRows')
      expect(dataError(() => loadLocalDataset(spec, file, { csv: { maxValues: 100 } })).code).toBe('TooManyValues')
      expect(dataError(() => loadLocalDataset(spec, file, { csv: { maxColumns: 2 } })).code).toBe('TooManyColumns')
      expect(dataError(() => loadLocalDataset(spec, join(dir, 'missing.csv'))).code).toBe('NotFound')
      expect(dataError(() => loadLocalDataset(spec, dir)).code).toBe('NotFound')
      writeFileSync(file, Uint8Array.of(0x61, 0x2c, 0xff, 0xfe, 0x0a))
      expect(dataError(() => loadLocalDataset(spec, file)).code).toBe('NotUtf8')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('validates the spec strictly', () => {
    const base = { format: 'csv', features: ['a'], label: 'y', classes: ['p', 'q'] }
    expect(parseLocalDatasetSpec(base).format).toBe('csv')
    const bad: unknown[] = [
      { ...base, path: '/etc/passwd' }, // the path is the node's, never in the spec
      { ...base, numClasses: 2 },
      { ...base, classes: undefined },
      { ...base, classes: ['p', 'p'] },
      { ...base, features: ['y'] },
      { ...base, header: false },
      { ...base, normalization: { kind: 'z-score', mean: [0, 1], std: [1, 1] } },
      { ...base, normalization: { kind: 'z-score', mean: [0], std: [0] } },
      { ...base, normalization: { kind: 'min-max', min: [1], max: [1] } },
      { ...base, delimiter: 'x' },
      { ...base, format: 'parquet' },
    ]
    for (const params of bad) expect(() => parseLocalDatasetSpec(params), JSON.stringify(params)).toThrow(ConfigError)
    expect(isLocalDataset({ params: base })).toBe(true)
    expect(isLocalDataset({ params: {} })).toBe(false)
  })

  it('property: any text or bytes give a dataset or a DataFileError, never anything else', () => {
    const spec = csvSpec()
    const specNum = parseCsvDatasetSpec({ format: 'csv', header: false, features: [0, 2], label: 1, numClasses: 4 })
    const cell = fc.oneof(
      fc.constantFrom('1', '-2.5', '3e4', 'cat', 'dog', '', '"', '""', '"a,b"', 'a', 'b', 'y', ' 7 ', 'NaN', '1e999'),
      fc.string({ maxLength: 6 }),
    )
    const csvish = fc
      .array(fc.array(cell, { minLength: 0, maxLength: 5 }), { maxLength: 8 })
      .chain((rows) =>
        fc
          .constantFrom('\n', '\r\n', '\r')
          .map((eol) => rows.map((r) => r.join(',')).join(eol) + (rows.length % 2 ? eol : '')),
      )
    const check = (input: string | Uint8Array) => {
      for (const s of [spec, specNum]) {
        try {
          const ds = parseCsvDataset(input, s, { limits: { maxRows: 5, maxColumns: 4, maxFileBytes: 4096 } })
          expect(ds.x.length).toBe(ds.size * ds.features)
          expect(ds.x.every(Number.isFinite)).toBe(true)
          expect(ds.labels.every((y) => y >= 0 && y < ds.numClasses)).toBe(true)
        } catch (err) {
          if (!(err instanceof DataFileError)) throw err
          expect(err.message.startsWith('<csv>')).toBe(true)
        }
      }
    }
    fc.assert(fc.property(fc.oneof(csvish, fc.string({ maxLength: 200 })), check), { numRuns: 2000 })
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 1000 })
  })

  it('property: a numeric table written as CSV reads back as the same dataset', () => {
    const spec = parseCsvDatasetSpec({ format: 'csv', features: ['f0', 'f1', 'f2'], label: 'c', numClasses: 3 })
    const row = fc.tuple(
      fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e30), max: Math.fround(1e30) }), {
        minLength: 3,
        maxLength: 3,
      }),
      fc.integer({ min: 0, max: 2 }),
    )
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 20 }), (rows) => {
        const text = `f0,f1,f2,c\n${rows.map(([f, c]) => `${f.map((v) => `"${v}"`).join(',')},${c}`).join('\n')}`
        const ds = parseCsvDataset(text, spec)
        expect(Array.from(ds.x)).toEqual(rows.flatMap(([f]) => f.map((v) => (v === 0 ? 0 : v))))
        expect(Array.from(ds.labels)).toEqual(rows.map(([, c]) => c))
      }),
      { numRuns: 300 },
    )
  })
})

/** A PNG file: `pixel(x, y)` gives [r, g, b]. */
function png(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const img = new PNG({ width, height })
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y)
      img.data.set([r, g, b, 255], (y * width + x) * 4)
    }
  return PNG.sync.write(img)
}

/** A PNG whose header says `width × height` and whose IDAT is `idat` compressed (a bomb when they disagree). */
function rawPng(width: number, height: number, idat: Uint8Array, interlace = 0): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const b = Buffer.alloc(12 + data.length)
    b.writeUInt32BE(data.length, 0)
    b.write(type, 4, 'ascii')
    Buffer.from(data).copy(b, 8)
    b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length)
    return b
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // depth
  ihdr[9] = 0 // grayscale
  ihdr[12] = interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(idat)),
    chunk('IEND', new Uint8Array()),
  ])
}

describe('image-folder datasets', () => {
  let root: string
  const spec = (over: Record<string, unknown> = {}) => ({
    format: 'image-folder',
    classes: ['dark', 'light'],
    height: 4,
    width: 4,
    channels: 'grayscale',
    ...over,
  })
  const folder = (name: string, files: Record<string, Uint8Array>): string => {
    const dir = join(root, name)
    for (const [path, bytes] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), bytes)
    }
    mkdirSync(dir, { recursive: true })
    return dir
  }
  const dark = png(4, 4, () => [10, 20, 30])
  const light = png(4, 4, (x) => [200 + x, 220, 240])

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'vain-img-'))
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('reads <class>/<image> as NCHW rows: grayscale (luma) or RGB, scaled to 0…1', () => {
    const dir = folder('ok', { 'dark/a.png': dark, 'dark/b.PNG': dark, 'light/c.png': light, '.DS_Store': dark })
    const gray = loadLocalDataset(spec(), dir)
    expect(gray.size).toBe(3)
    expect(gray.features).toBe(16)
    expect(gray.numClasses).toBe(2)
    expect(Array.from(gray.labels)).toEqual([0, 0, 1])
    expect(gray.x[0]).toBeCloseTo((0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255, 5)
    const rgb = loadLocalDataset(spec({ channels: 'rgb' }), dir)
    expect(rgb.features).toBe(48)
    const third = rgb.x.subarray(96, 144)
    expect(third[0]).toBeCloseTo(200 / 255, 5) // R of (0, 0)
    expect(third[3]).toBeCloseTo(203 / 255, 5) // R of (3, 0)
    expect(third[16]).toBeCloseTo(220 / 255, 5) // G plane
    expect(third[32]).toBeCloseTo(240 / 255, 5) // B plane
    const norm = loadLocalDataset(spec({ normalization: { mean: [0.5], std: [0.25] } }), dir)
    expect(norm.x[0]).toBeCloseTo((gray.x[0]! - 0.5) / 0.25, 5)
  })

  it('resizes with resize: "bilinear", refuses another size otherwise', () => {
    const dir = folder('sizes', { 'dark/big.png': png(8, 8, (x) => [x * 30, x * 30, x * 30]), 'light/c.png': light })
    const err = dataError(() => loadLocalDataset(spec(), dir))
    expect(err.code).toBe('WrongImageSize')
    expect(err.file).toBe(join(dir, 'dark', 'big.png'))
    expect(err.message).toMatch(/8×8 pixels; the job's images are 4×4/)
    const ds = loadLocalDataset(spec({ resize: 'bilinear' }), dir)
    expect(ds.size).toBe(2)
    // columns 0,1 → 0.5 (mean of 0 and 30 → 15), ... a left-to-right ramp
    expect(ds.x[0]).toBeCloseTo(15 / 255, 4)
    expect(ds.x[3]).toBeCloseTo(195 / 255, 4)
  })

  it('reads JPEG only when the job allows it', () => {
    const raw = jpeg.encode({ width: 4, height: 4, data: Buffer.alloc(64, 128) }, 90).data
    const dir = folder('jpeg', { 'dark/a.jpg': raw, 'light/c.png': light })
    expect(dataError(() => loadLocalDataset(spec(), dir)).code).toBe('UnsupportedImage')
    const ds = loadLocalDataset(spec({ formats: ['png', 'jpeg'] }), dir)
    expect(ds.x[0]).toBeGreaterThan(0.4)
    expect(ds.x[0]).toBeLessThan(0.6)
  })

  it('refuses unknown classes, stray files, corrupt images and bombs, naming the file', () => {
    const cases: Array<[Record<string, Uint8Array>, string, string]> = [
      [{ 'dark/a.png': dark, 'cow/b.png': dark }, 'UnknownClass', 'cow'],
      [{ 'dark/a.png': dark, 'stray.png': dark }, 'UnknownClass', 'stray.png'],
      [{ 'dark/notes.txt': Buffer.from('hi') }, 'UnsupportedImage', 'dark/notes.txt'],
      [{ 'dark/fake.png': Buffer.from('not a png at all') }, 'UnsupportedImage', 'dark/fake.png'],
      [{ 'dark/cut.png': dark.subarray(0, 60) }, 'BadImage', 'dark/cut.png'],
      // a header claiming 100,000 × 100,000 pixels: refused before decoding
      [{ 'dark/huge.png': rawPng(100_000, 100_000, new Uint8Array(10)) }, 'ImageTooLarge', 'dark/huge.png'],
      // 4×4 in the header, 64 MiB of zeros in the IDAT (≈ 64 KiB compressed): inflate stops at the header's size
      [{ 'dark/bomb.png': rawPng(4, 4, new Uint8Array(64 * 1024 * 1024)) }, 'BadImage', 'dark/bomb.png'],
      [{ 'dark/inter.png': rawPng(4, 4, new Uint8Array(20), 1) }, 'UnsupportedImage', 'dark/inter.png'],
      [{}, 'Empty', ''],
    ]
    cases.forEach(([files, code, where], i) => {
      const dir = folder(`bad${i}`, files)
      const err = dataError(() => loadLocalDataset(spec(), dir))
      expect(err.code, where).toBe(code)
      expect(err.file, where).toBe(join(dir, where))
    })
    const many = folder('many', { 'dark/a.png': dark, 'dark/b.png': dark })
    expect(dataError(() => loadLocalDataset(spec(), many, { images: { maxFiles: 1 } })).code).toBe('TooManyFiles')
    expect(dataError(() => loadLocalDataset(spec(), many, { images: { maxFileBytes: 10 } })).code).toBe('FileTooLarge')
    expect(dataError(() => loadLocalDataset(spec(), many, { images: { maxSourcePixels: 15 } })).code).toBe(
      'ImageTooLarge',
    )
  })

  it('property: any bytes, or a valid PNG damaged anywhere, decode or give a DataFileError', () => {
    const check = (bytes: Uint8Array) => {
      try {
        const img = decodeImage(bytes, 'x.png', ['png', 'jpeg'], 64 * 64)
        expect(img.data.length).toBe(img.width * img.height * 4)
      } catch (err) {
        if (!(err instanceof DataFileError)) throw err
      }
    }
    const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([...signature, ...b])),
          fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([0xff, 0xd8, ...b])),
        ),
        check,
      ),
      { numRuns: 1000 },
    )
    const valid = png(4, 4, (x, y) => [x * 60, y * 60, 7])
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length), (at, v, cut) => {
        const damaged = Uint8Array.from(valid.subarray(0, Math.max(cut, at + 1)))
        damaged[at] = v
        check(damaged)
      }),
      { numRuns: 1000 },
    )
  })

  it('validates the spec strictly', () => {
    expect(parseImageFolderDatasetSpec(spec()).formats).toEqual(['png'])
    for (const bad of [
      spec({ classes: ['..', 'a'] }),
      spec({ classes: ['a/b', 'c'] }),
      spec({ classes: ['a', 'a'] }),
      spec({ height: 0 }),
      spec({ width: 5000 }),
      spec({ channels: 4 }),
      spec({ formats: ['gif'] }),
      spec({ normalization: { mean: [0, 0, 0], std: [1, 1, 1] } }),
      spec({ root: '/data' }),
    ])
      expect(() => parseLocalDatasetSpec(bad), JSON.stringify(bad)).toThrow(ConfigError)
  })

  it('trains like any dataset', async () => {
    const files: Record<string, Uint8Array> = {}
    for (let i = 0; i < 8; i++) {
      files[`dark/${i}.png`] = png(4, 4, () => [i * 5, i * 5, i * 5])
      files[`light/${i}.png`] = png(4, 4, () => [250 - i * 5, 250, 250])
    }
    const data = loadLocalDataset(spec(), folder('train', files))
    const trainer = createLocalTrainer()
    try {
      const model = createModel(mlp(16, [8], 2), { seed: 1 })
      const before = await trainer.evaluate(model, data)
      const { model: trained } = await trainer.train(model, data, { epochs: 30, batchSize: 4, lr: 0.5, seed: 1 })
      const after = await trainer.evaluate(trained, data)
      expect(after.loss).toBeLessThan(before.loss)
      expect(after.accuracy).toBe(1)
    } finally {
      await trainer.close()
    }
  })
})

describe('a job on local files', () => {
  const job = (architecture: unknown, params: Record<string, unknown>) => ({
    name: 'local',
    architecture,
    initialModel: 'bafyreife4alcxgcjqif6x7jxwh5wu2ww32hgdwbvceb6eibeasjapvsuma',
    dataset: { name: 'mine', params },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'dense' },
    rounds: 1,
    roundDeadlineMs: 1000,
    minUpdates: 1,
    committeeSize: 1,
    local: { epochs: 1, batchSize: 8, lr: 0.1 },
    maxUpdateBytes: 4096,
  })
  const csv = { format: 'csv', features: ['a', 'b'], label: 'y', classes: ['p', 'q', 'r'] }
  const images = { format: 'image-folder', classes: ['p', 'q'], height: 8, width: 8, channels: 'rgb' }
  const problems = (spec: unknown) => {
    const r = JobSpecSchema.safeParse(spec)
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
  }

  it('is refused when its dataset schema is invalid or the model does not fit the data', () => {
    expect(problems(job(mlp(2, [4], 3), csv))).toEqual([])
    expect(problems(job(mlp(192, [4], 2), images))).toEqual([])
    expect(
      problems(
        job(
          { kind: 'cnn', inputShape: [3, 8, 8], convs: [{ filters: 2, kernel: 3 }], hiddenSizes: [], numClasses: 2 },
          images,
        ),
      ),
    ).toEqual([])
    // MNIST and other named datasets: params are free-form, as before
    expect(problems({ ...job(mlp(784, [4], 10), {}), dataset: { name: 'mnist' } })).toEqual([])
    expect(problems(job(mlp(2, [4], 3), { ...csv, path: '/etc/passwd' }))).toEqual([
      'dataset.params: Unrecognized key: "path"',
    ])
    expect(problems(job(mlp(3, [4], 3), csv))).toEqual([
      'architecture: the dataset has 2 features per row; the model takes 3',
    ])
    expect(problems(job(mlp(2, [4], 2), csv))).toEqual([
      'architecture.numClasses: the dataset has 3 classes; the model has 2 outputs',
    ])
    expect(
      problems(
        job(
          { kind: 'cnn', inputShape: [1, 8, 8], convs: [{ filters: 2, kernel: 3 }], hiddenSizes: [], numClasses: 2 },
          images,
        ),
      ),
    ).toEqual([
      'architecture.inputShape: the images are [3, 8, 8] (channels, height, width); the model takes [1, 8, 8]',
    ])
  })
})
