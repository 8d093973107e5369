import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { stakingAbi } from '../src/index.js'

const pkg = join(import.meta.dirname, '..')
const artifacts = join(pkg, '..', '..', 'contracts', 'artifacts', 'contracts', 'Staking.sol', 'Staking.json')

describe('shipped ABIs', () => {
  it('are typed `as const` (function names are literal types)', () => {
    const names = stakingAbi.filter((i) => i.type === 'function').map((i) => i.name)
    expect(names).toContain('stakeWithPermit')
  })

  // the root test command runs the Hardhat tests (which compile) before vitest
  it.skipIf(!existsSync(artifacts))('match the compiled contracts (run `pnpm --filter @vain/chain abi` if not)', () => {
    const r = spawnSync(process.execPath, [join(pkg, 'scripts', 'generate-abi.mjs'), '--check'], { encoding: 'utf8' })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
  })
})
