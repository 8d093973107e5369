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
      // resolve '@vain/chain' to this package's source, as a user's project resolves it to dist
      const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', file], {
        cwd: pkg,
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout).toMatch(/^StakeTooLowError: node 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 has 0 VAIN staked/m)
      expect(r.stdout).toContain('tier 1, staked 100 VAIN, registered true')
    } finally {
      rmSync(file, { force: true })
    }
  })
})
