import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const pkg = join(import.meta.dirname, '..')

describe('README', () => {
  it('the first example runs as written and prints the accuracy', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toBeDefined()
    const file = join(pkg, `.readme-example-${process.pid}.ts`)
    writeFileSync(file, code as string)
    try {
      // resolve '@vain/fl' to this package's source, as a user's project resolves it to dist
      const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', file], {
        cwd: pkg,
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      const accuracy = Number(/accuracy ([\d.]+) %/.exec(r.stdout)?.[1])
      expect(accuracy).toBeGreaterThan(90)
      expect(r.stdout).toMatch(/model [0-9a-f]{16}…, ONNX file of \d+ bytes/)
    } finally {
      rmSync(file, { force: true })
    }
  })

  it('"Run the round over libp2p" runs as written: two nodes, a job joined, its model fetched by CID', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('\n## Run the round over libp2p\n'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    expect(code).toBeDefined()
    const file = join(pkg, `.readme-libp2p-${process.pid}.ts`)
    writeFileSync(file, code as string)
    try {
      // @vain/net and @vain/memory resolve to their sources too (dev dependencies of this package)
      const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', file], {
        cwd: pkg,
        encoding: 'utf8',
        // real nodes on a busy machine: a wide margin, not a performance check
        timeout: 240_000,
      })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(/^b joined job [0-9a-f]{12}… and holds model bafyrei[a-z2-7]{5}… \(\d+ bytes\)$/m)
    } finally {
      rmSync(file, { force: true })
    }
  }, 300_000)
})
