import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const pkg = join(import.meta.dirname, '..')

describe('README', () => {
  it('the first example runs as written and prints what it says', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toBeDefined()
    const file = join(pkg, `.readme-example-${process.pid}.ts`)
    writeFileSync(file, code as string)
    try {
      // '@vain/resources' resolves to this package's source, as a user's project resolves it to dist
      const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', file], {
        cwd: pkg,
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout.split('\n')).toEqual(['100', 'true number', 'InvalidResourceConfigError', ''])
    } finally {
      rmSync(file, { force: true })
    }
  })
})
