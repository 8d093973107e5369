#!/usr/bin/env node
/**
 * Another project's view of vAIn: pack every publishable package (packages/*, built), install
 * the tarballs with npm into a scratch ESM TypeScript project OUTSIDE the repo, type-check it
 * strictly, and run each package README's first example there — plain Node, no tsx, no workspace.
 *
 *   node scripts/consumer-check.mjs [--keep] [--dir DIR]
 *
 * It prints one line per step and exits non-zero on the first failure. npm runs with
 * `--prefer-offline` (its cache serves what an earlier run fetched) and `--ignore-scripts`
 * (onnxruntime-node's postinstall would download CUDA libraries; its CPU build ships in the
 * package, lmdb's and Hardhat's native parts ship as prebuilt optional packages).
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, dir: { type: 'string' } } })
const root = new URL('..', import.meta.url).pathname
const node = process.execPath
const started = Date.now()
const step = (msg) => console.log(`[consumer ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`)

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts })
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n')
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${out}`)
  }
  return r
}

/** npm's CLI, run by this Node (the system's npm may sit on an older Node). */
function npmCli() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const bin = join(dir, 'npm')
    if (existsSync(bin)) {
      const real = realpathSync(bin)
      if (real.endsWith('.js')) return real
      const cli = join(real, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')
      if (existsSync(cli)) return cli
    }
  }
  throw new Error('npm not found on PATH')
}

const packages = readdirSync(join(root, 'packages'))
  .map((d) => join(root, 'packages', d))
  .filter((d) => existsSync(join(d, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true)

const work = values.dir ?? mkdtempSync(join(tmpdir(), 'vain-consumer-'))
const tarballs = join(work, 'tarballs')
const project = join(work, 'project')
mkdirSync(tarballs, { recursive: true })
mkdirSync(project, { recursive: true })

try {
  // 1. pack (pnpm rewrites workspace: ranges to the versions published together)
  const files = {}
  const unbuilt = packages.filter(
    ({ dir }) => !['dist/index.js', 'dist/index.d.ts'].every((f) => existsSync(join(dir, f))),
  )
  if (unbuilt.length > 0) {
    step(`not built: ${unbuilt.map(({ pkg }) => pkg.name).join(', ')} — running pnpm build`)
    sh('npx', ['-y', 'pnpm@12.4.2', 'build'], { cwd: root })
  }
  for (const { dir, pkg } of packages) {
    const before = new Set(readdirSync(tarballs))
    sh('npx', ['-y', 'pnpm@12.4.2', 'pack', '--pack-destination', tarballs], { cwd: dir })
    const made = readdirSync(tarballs).filter((f) => !before.has(f))
    if (made.length !== 1) throw new Error(`pnpm pack of ${pkg.name} made ${made.length} files`)
    files[pkg.name] = join(tarballs, made[0])
  }
  step(
    `packed ${Object.keys(files).length} packages: ${Object.values(files)
      .map((f) => f.split('/').pop())
      .join(', ')}`,
  )

  // 2. a scratch ESM TypeScript project: the tarballs, the peers the READMEs name, TypeScript
  const catalog = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')
  const pin = (name) => new RegExp(`^\\s+'?${name.replace('/', '\\/')}'?: (.+)$`, 'm').exec(catalog)?.[1]?.trim()
  const deps = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, `file:${file}`]))
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'vain-consumer-check',
        private: true,
        type: 'module',
        dependencies: {
          ...deps,
          zod: pin('zod'),
          viem: pin('viem'),
          hardhat: pin('hardhat'),
          '@libp2p/crypto': '^5.1.23',
        },
        devDependencies: { typescript: pin('typescript'), '@types/node': pin("'@types/node'") ?? pin('@types/node') },
        // the packages depend on each other by version: point those at the tarballs too
        overrides: Object.fromEntries(Object.keys(files).map((name) => [name, `$${name}`])),
      },
      null,
      2,
    ),
  )
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'es2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
        },
        include: ['*.ts'],
      },
      null,
      2,
    ),
  )
  const npm = npmCli()
  sh(node, [npm, 'install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: project,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  })
  step(`npm install into ${project}: done`)
  for (const name of Object.keys(files)) {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8'))
    if (existsSync(join(project, 'node_modules', name, 'src'))) throw new Error(`${name}: the tarball ships src/`)
    if (installed.dependencies !== undefined && JSON.stringify(installed.dependencies).includes('workspace:'))
      throw new Error(`${name}: a workspace: range was published`)
  }

  // 3. each README's first example, as a file of the project
  const examples = []
  for (const { dir, pkg } of packages) {
    const code = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(dir, 'README.md'), 'utf8'))?.[1]
    if (code === undefined) throw new Error(`${pkg.name}: README has no ts example`)
    const file = `example-${pkg.name.split('/')[1]}.ts`
    writeFileSync(join(project, file), code)
    examples.push({ name: pkg.name, file })
  }
  sh(node, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project })
  step(`tsc --strict (noUncheckedIndexedAccess, exactOptionalPropertyTypes) on ${examples.length} README examples: ok`)

  // 4. run them with plain Node (type stripping), outside the repo
  for (const { name, file } of examples) {
    const r = sh(node, [file], { cwd: project, timeout: 300_000 })
    const lines = r.stdout.trim().split('\n')
    step(`${name}: README example ran (${lines.length} lines out; last: ${lines.at(-1)?.slice(0, 100)})`)
  }

  // 5. from CommonJS: ESM only, loaded by require() on Node ≥ 22.12 (require(esm); the exports'
  // `default` condition makes the entry reachable from require)
  writeFileSync(
    join(project, 'cjs.cjs'),
    `for (const name of ${JSON.stringify(Object.keys(files))}) console.log(name, Object.keys(require(name)).length > 0)\n`,
  )
  const cjs = sh(node, ['cjs.cjs'], { cwd: project })
  if (cjs.stdout.includes('false') || cjs.stdout.trim().split('\n').length !== Object.keys(files).length)
    throw new Error(`require() from CommonJS: ${cjs.stdout}`)
  step(`CommonJS: require() loads all ${Object.keys(files).length} packages on this Node`)
  step('all good')
} finally {
  if (!values.keep && values.dir === undefined) rmSync(work, { recursive: true, force: true })
  else console.log(`kept ${work}`)
}
