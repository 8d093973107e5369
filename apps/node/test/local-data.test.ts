/**
 * A node's own data: the config's `data` section (paths by dataset name, relative to the config
 * file; the MNIST shard form still works) and the resolver the learner uses (a job's schema read
 * from the node's file, cached; a bad file logged once and not trained on).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { createDataset, type JobSpec } from '@vain/fl'
import { afterAll, describe, expect, it } from 'vitest'
import { AppConfigError, loadAppConfig } from '../src/config.js'
import { dataSources, localDataResolver } from '../src/local-data.js'
import { createLogger } from '../src/logger.js'

const dir = mkdtempSync(join(tmpdir(), 'vain-local-data-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const params = { format: 'csv', features: ['a', 'b'], label: 'y', classes: ['no', 'yes'] }
const job = (name: string, p: Record<string, unknown> = params) =>
  ({ name: 'j', dataset: { name, params: p } }) as unknown as JobSpec

/** A real logger writing JSON lines into `lines`. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const stream = new PassThrough()
  const lines: Array<Record<string, unknown>> = []
  stream.on('data', (c: Buffer) => {
    for (const l of c.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l))
  })
  return { log: createLogger({ level: 'debug', json: true, stream }), lines }
}

describe('config: data', () => {
  it('takes paths by dataset name, relative to the config file, and an mnist shard', async () => {
    const file = join(dir, 'node.json')
    writeFileSync(
      file,
      JSON.stringify({ data: { sensors: 'shard.csv', pets: '/srv/pets', mnist: { shard: 1, shards: 3 } } }),
    )
    const config = await loadAppConfig(file, { dataDir: join(dir, 'd') })
    expect(dataSources(config.data)).toEqual({
      paths: { sensors: join(dir, 'shard.csv'), pets: '/srv/pets' },
      mnist: { shard: 1, shards: 3, alpha: 0.5, seed: 1 },
    })
    // the MNIST-shard form of earlier configs
    const legacy = await loadAppConfig(undefined, {
      dataDir: 'd',
      data: { dataset: 'mnist', shard: 0, shards: 2 },
    })
    expect(dataSources(legacy.data)).toEqual({ paths: {}, mnist: { shard: 0, shards: 2, alpha: 0.5, seed: 1 } })
    expect(dataSources(undefined)).toEqual({ paths: {} })
  })

  it('refuses bad names, paths and shards', async () => {
    for (const data of [{ '../x': 'a.csv' }, { x: 5 }, { x: '' }, { mnist: { shard: 2, shards: 2 } }, 'a.csv']) {
      await expect(loadAppConfig(undefined, { dataDir: 'd', data }), JSON.stringify(data)).rejects.toThrow(
        AppConfigError,
      )
    }
  })
})

describe('localDataResolver', () => {
  it("reads the job's schema from the node's file once, and gives MNIST jobs the shard", () => {
    const file = join(dir, 'ok.csv')
    writeFileSync(file, 'a,b,y\n1,2,no\n3,4,yes\n')
    const mnist = createDataset({ x: [0, 1], labels: [0, 1], features: 1, numClasses: 2 })
    const { log, lines } = capture()
    const resolve = localDataResolver({ mnist, paths: { sensors: file }, log })
    const ds = resolve(job('sensors'))
    expect(ds?.size).toBe(2)
    expect(Array.from(ds?.x ?? [])).toEqual([1, 2, 3, 4])
    expect(resolve(job('sensors'))).toBe(ds) // cached
    expect(lines.filter((l) => l.msg === 'local data loaded')).toHaveLength(1)
    // another schema over the same file: read again, with that schema
    expect(resolve(job('sensors', { ...params, features: ['b'] }))?.features).toBe(1)
    expect(resolve(job('other'))).toBeUndefined()
    expect(resolve({ name: 'm', dataset: { name: 'mnist', params: {} } } as unknown as JobSpec)).toBe(mnist)
  })

  it('a bad file or schema: no data for the job, the typed error logged once', () => {
    const file = join(dir, 'bad.csv')
    writeFileSync(file, 'a,b,y\n1,2,no\n1,x,yes\n')
    const { log, lines } = capture()
    const resolve = localDataResolver({ paths: { sensors: file }, log })
    expect(resolve(job('sensors'))).toBeUndefined()
    expect(resolve(job('sensors'))).toBeUndefined()
    const warnings = lines.filter((l) => l.msg === 'cannot use local data: this node does not train the job')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({
      error: 'DataFileError',
      message: `${file}:3: feature "b" is not a number ("x")`,
    })
    expect(resolve(job('sensors', { ...params, path: '/etc/passwd' }))).toBeUndefined()
    expect(lines.at(-1)).toMatchObject({ error: 'ConfigError' })
  })
})
