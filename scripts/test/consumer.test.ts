/**
 * "Import vAIn into another project" on every change: scripts/consumer-check.mjs packs each
 * publishable package, installs the tarballs with npm into a scratch project outside the repo,
 * type-checks it strictly and runs each README's first example with plain Node; and a publish dry
 * run (pnpm, as changesets publishes) checks what would go to the registry.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')

describe('packages from another project', () => {
  it('pack, npm install outside the repo, strict tsc and every README example run', () => {
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'consumer-check.mjs')], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
    process.stdout.write(r.stdout)
    expect(r.stderr.split('\n').slice(-30).join('\n')).not.toMatch(/Error/)
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('all good')
    for (const name of ['@vain/net', '@vain/resources', '@vain/fl', '@vain/chain', '@vain/memory', '@vain/metrics'])
      expect(r.stdout).toContain(`${name}: README example ran`)
  })

  it('a publish dry run of every package succeeds', () => {
    const r = spawnSync(
      'npx',
      ['-y', 'pnpm@12.4.2', '-r', '--filter', './packages/*', 'publish', '--dry-run', '--no-git-checks'],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    )
    expect(r.status, `${r.stdout}\n${r.stderr}`.slice(-4000)).toBe(0)
  })
})
