import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const pkg = join(import.meta.dirname, '..')
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
  exports: Record<string, { 'vain-source': string; types: string; import: string; default: string }>
}
const subpaths = Object.keys(manifest.exports).filter((k) => k !== '.')
/** The entry points of the library's own folders: the root entry exports all of them too. */
const folders = [
  'aggregators',
  'attacks',
  'codecs',
  'data',
  'models',
  'onnx',
  'personalization',
  'privacy',
  'registry',
  'round',
  'simulation',
  'strategies',
  'train',
].map((s) => `./${s}`)

/** What a child process reports about the modules it loaded. */
interface Loaded {
  /** Lines of /proc/self/maps that name onnxruntime (its native library). */
  mapped: string[]
  /** Resolved module URLs (ESM and CommonJS) that name onnxruntime. */
  resolved: string[]
  result?: unknown
}

/**
 * Runs `body` (an ES module body) in a fresh node — as a user's process resolves `@vain/fl` to dist,
 * this one resolves it to src through the `vain-source` condition and tsx — with a resolve hook that
 * records every module the process loads. `body` sets `result`; the child prints {@link Loaded}.
 */
function inChild(body: string): Loaded {
  const code = `
import { registerHooks } from 'node:module'
import { readFileSync } from 'node:fs'
const urls = []
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.push(r.url); return r } })
let result
${body}
const mapped = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('onnxruntime'))
const resolved = urls.filter((u) => u.includes('onnxruntime'))
process.stdout.write('\\n@@' + JSON.stringify({ mapped, resolved, result }))
`
  const r = spawnSync(
    process.execPath,
    ['--conditions=vain-source', '--import', 'tsx', '--input-type=module', '--eval', code],
    { cwd: pkg, encoding: 'utf8', timeout: 60_000 },
  )
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  return JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n@@') + 3)) as Loaded
}

describe.skipIf(process.platform !== 'linux')('light entry points do not load onnxruntime-node', () => {
  it('@vain/fl/aggregators and @vain/fl/codecs: aggregate and round-trip an update, no onnxruntime', () => {
    const loaded = inChild(`
const { createAggregator, mean } = await import('@vain/fl/aggregators')
const { createCodec } = await import('@vain/fl/codecs')
const updates = [Float32Array.of(1, 2, 3), Float32Array.of(3, 4, 5), Float32Array.of(100, -100, 0)]
const codec = createCodec({ name: 'fp16' })
const decoded = updates.map((u) => codec.decode(codec.encode(u), { expectedLength: 3 }))
result = {
  mean: Array.from(mean().aggregate(decoded.slice(0, 2))),
  median: Array.from(createAggregator({ name: 'median' }).aggregate(decoded)),
}
`)
    expect(loaded.result).toEqual({ mean: [2, 3, 4], median: [3, 2, 3] })
    expect(loaded.resolved).toEqual([])
    expect(loaded.mapped).toEqual([])
  })

  it('importing every entry point (training and simulation included) loads no onnxruntime until used', () => {
    const loaded = inChild(`
const names = ${JSON.stringify(subpaths.map((s) => `@vain/fl/${s.slice(2)}`))}
for (const name of names) await import(name)
const { createLocalTrainer } = await import('@vain/fl')
const trainer = createLocalTrainer() // creating a trainer is sync and loads nothing yet
await trainer.close()
result = names.length
`)
    expect(loaded.result).toBe(subpaths.length)
    expect(loaded.resolved).toEqual([])
    expect(loaded.mapped).toEqual([])
  })

  it('control: @vain/fl/train loads and maps onnxruntime on the first train step', () => {
    const loaded = inChild(`
const { createLocalTrainer } = await import('@vain/fl/train')
const { createModel, mlp } = await import('@vain/fl/models')
const { gaussianBlobs } = await import('@vain/fl/data')
const trainer = createLocalTrainer()
const data = gaussianBlobs({ samples: 64, features: 4, numClasses: 2, seed: 1 })
const out = await trainer.train(createModel(mlp(4, [8], 2), { seed: 1 }), data, { epochs: 1, batchSize: 64, lr: 0.1, seed: 1 })
await trainer.close()
result = out.steps
`)
    expect(loaded.result).toBe(1)
    expect(loaded.resolved.some((u) => /onnxruntime-node/.test(u))).toBe(true)
    expect(loaded.mapped.some((l) => /onnxruntime.*\.so/.test(l))).toBe(true)
  })
})

describe('package.json exports', () => {
  it('lists every folder entry point, each with src (vain-source), types and import of one tsup entry', () => {
    expect(subpaths).toEqual(expect.arrayContaining(folders))
    for (const [key, target] of Object.entries(manifest.exports)) {
      const name = key === '.' ? 'index' : key.slice(2)
      if (folders.includes(key)) expect(target['vain-source']).toBe(`./src/${name}/index.ts`)
      expect(Object.keys(target)).toEqual(['vain-source', 'types', 'import', 'default'])
      expect(target.types).toBe(`./dist/${name}.d.ts`)
      expect(target.import).toBe(`./dist/${name}.js`)
      // the same file for require() (Node's require(esm)) and other resolvers
      expect(target.default).toBe(target.import)
      expect(existsSync(join(pkg, target['vain-source'])), key).toBe(true)
    }
  })

  it('every subpath resolves and exports something; the root entry exports all of the folders too', () => {
    const loaded = inChild(`
const root = await import('@vain/fl')
result = {}
for (const sub of ${JSON.stringify(subpaths)}) {
  const m = await import('@vain/fl/' + sub.slice(2))
  const keys = Object.keys(m)
  result[sub] = { count: keys.length, missingFromRoot: keys.filter((k) => root[k] !== m[k]) }
}
`)
    const result = loaded.result as Record<string, { count: number; missingFromRoot: string[] }>
    for (const sub of subpaths) expect(result[sub]?.count, sub).toBeGreaterThan(0)
    for (const sub of folders) expect(result[sub]?.missingFromRoot, sub).toEqual([])
  })

  it('generic helpers are not part of the public API', () => {
    const loaded = inChild(`
const root = await import('@vain/fl')
result = ['toHex', 'fromHex', 'sha256', 'sha256Hex', 'formatBytes', 'createProgressReporter'].filter((k) => k in root)
`)
    expect(loaded.result).toEqual([])
  })
})
