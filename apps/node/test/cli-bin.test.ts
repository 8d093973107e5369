/**
 * `vain` as an installed command: bin/vain.mjs runs the built bundle (dist/cli.js) with plain Node
 * (no tsx, no TypeScript at run time; the workspace packages from their built dist), and checks the
 * Node version first. The bundle is rebuilt here from the sources (tsup, about a second); the
 * workspace packages must be built (`pnpm build`, as CI does before the tests).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const APP = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(APP, 'bin', 'vain.mjs')
/** The workspace packages' sources and builds, as module URLs start. */
const PACKAGES = pathToFileURL(join(APP, '..', '..', 'packages')).href
/** Records every module URL the process resolves (Node's synchronous hooks) into the file $VAIN_MODULES_FILE at exit. */
const RECORD_MODULES = `data:text/javascript,${encodeURIComponent(
  "import{registerHooks}from'node:module';import{writeFileSync}from'node:fs';const seen=[];registerHooks({resolve(s,c,n){const r=n(s,c);seen.push(r.url);return r}});process.on('exit',()=>writeFileSync(process.env.VAIN_MODULES_FILE,JSON.stringify(seen)))",
)}`
let runs = 0

interface Run {
  status: number | null
  stdout: string
  stderr: string
  modules: string[]
}

/** Runs `node [flags] bin/vain.mjs args` with NODE_OPTIONS unset (no tsx, no source condition). */
function run(node: string, args: string[], flags: string[] = [], bin = BIN): Promise<Run> {
  const modulesFile = join(tmpdir(), `vain-bin-modules-${process.pid}-${runs++}.json`)
  const env: NodeJS.ProcessEnv = { ...process.env, VAIN_MODULES_FILE: modulesFile }
  delete env.NODE_OPTIONS
  delete env.VAIN_API_TOKEN
  const proc = spawn(node, [...flags, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: tmpdir() })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  return new Promise((resolve) =>
    proc.once('close', (status) => {
      let modules: string[] = []
      if (existsSync(modulesFile)) {
        modules = JSON.parse(readFileSync(modulesFile, 'utf8')) as string[]
        rmSync(modulesFile, { force: true })
      }
      resolve({ status, stdout, stderr, modules })
    }),
  )
}

describe('vain from built JavaScript (bin/vain.mjs → dist/cli.js)', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-bin-'))
    // the bundle of the current sources
    const build = spawnSync(process.execPath, [join(APP, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
      cwd: APP,
      encoding: 'utf8',
      timeout: 170_000,
    })
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0)
  }, 180_000)
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('--help runs with plain Node: no tsx, no TypeScript source loaded', async () => {
    const r = await run(process.execPath, ['--help'], ['--import', RECORD_MODULES])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('Usage: vain [options] [command]')
    expect(r.stdout).toContain('Exit codes: 0 ok, 1 runtime failure')
    expect(r.modules.some((u) => u.endsWith('/dist/cli.js'))).toBe(true)
    expect(r.modules.filter((u) => u.includes('/tsx/') || u.endsWith('.ts'))).toEqual([])
  })

  it("vain start loads the node from the workspace packages' built dist, and reports a bad config (exit 2)", async () => {
    const r = await run(
      process.execPath,
      ['start', '--data-dir', join(dir, 'n'), '--profile', 'moon'],
      ['--import', RECORD_MODULES],
    )
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toContain('invalid configuration')
    expect(r.stderr).toMatch(/profile/)
    const vain = r.modules.filter((u) => u.startsWith(PACKAGES))
    expect(vain.length).toBeGreaterThan(0) // the node's parts were loaded…
    expect(vain.filter((u) => !u.includes('/dist/'))).toEqual([]) // …from dist, never src
    expect(r.modules.filter((u) => u.includes('/tsx/') || u.endsWith('.ts'))).toEqual([])
  })

  it('says to build when dist is missing (exit 2)', async () => {
    const copy = join(dir, 'app', 'bin')
    await mkdir(copy, { recursive: true })
    await copyFile(BIN, join(copy, 'vain.mjs'))
    const r = await run(process.execPath, ['--help'], [], join(copy, 'vain.mjs'))
    expect(r.status).toBe(2)
    expect(r.stderr).toContain('the CLI is not built')
    expect(r.stderr).toContain('run pnpm build')
  })

  const OLD_NODE = '/usr/bin/node'
  const oldVersion = existsSync(OLD_NODE)
    ? spawnSync(OLD_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim()
    : ''
  const [major = 99, minor = 99] = oldVersion.split('.').map(Number)
  const isOld = oldVersion !== '' && (major < 22 || (major === 22 && minor < 13))
  it.skipIf(!isOld)(
    `an old Node (${OLD_NODE} ${oldVersion}) is told what is needed and how to get it (exit 2)`,
    async () => {
      const r = await run(OLD_NODE, ['--help'])
      expect(r.status).toBe(2)
      expect(r.stderr).toContain(`needs Node.js >= 22.13, but this is Node.js ${oldVersion}`)
      expect(r.stderr).toContain('https://nodejs.org')
      expect(r.stdout).toBe('')
    },
  )
})
