/**
 * What a node process holds, and why: PSS (proportional set size: private pages plus a share of
 * shared ones, from /proc/<pid>/smaps_rollup) of fresh Node processes that load the node's parts
 * one more at a time — the breakdown — and of a whole `vain start` process (from built JavaScript
 * and from TypeScript through tsx), beside the bare Node baseline of the same run.
 *
 *   pnpm --filter @vain/node bench:memory
 *
 * Each step runs in its own process (after a full GC) so figures do not leak between steps; the
 * packages load from their built `dist` (run `pnpm build` first).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'

const app = join(import.meta.dirname, '..')
const node = process.execPath
const mib = (kb: number) => (kb / 1024).toFixed(1).padStart(6)

function pssOf(pid: number): { pss: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN)
  return { pss: kb('Pss'), anon: kb('Pss_Anon'), file: kb('Pss_File') }
}

/** Cumulative steps: each imports everything above it, then reports its own PSS. */
const steps: Array<{ name: string; code: string }> = [
  { name: 'bare Node', code: '' },
  { name: '+ zod', code: "await import('zod')" },
  { name: '+ @vain/net (libp2p, noise, yamux, gossipsub, kad-dht)', code: "await import('@vain/net')" },
  { name: '+ @vain/memory (lmdb)', code: "await import('@vain/memory')" },
  { name: '+ @vain/resources', code: "await import('@vain/resources')" },
  { name: '+ @vain/metrics (prom-client)', code: "await import('@vain/metrics')" },
  { name: '+ @vain/fl (onnxruntime-node loaded)', code: "await import('@vain/fl')" },
  {
    name: '+ an onnxruntime training step (MLP 784-64-10)',
    code: "{ const fl = await import('@vain/fl'); const t = fl.createLocalTrainer(); const m = fl.createModel(fl.mlp(784, [64], 10), { seed: 1 }); const d = fl.gaussianBlobs({ samples: 256, features: 784, numClasses: 10, seed: 1 }); await t.train(m, d, { epochs: 1, batchSize: 32, lr: 0.1 }) }",
  },
  {
    name: '+ an MNIST shard (800 digits), the rest not kept',
    code: "{ const fl = await import('@vain/fl'); const { train } = await fl.loadMnist({ cache: false }); globalThis.keep = fl.subset(train, Array.from({ length: 800 }, (_, i) => i)) }",
  },
  {
    name: '+ all of MNIST kept (10,000 digits as float32)',
    code: "{ const fl = await import('@vain/fl'); globalThis.keep2 = await fl.loadMnist() }",
  },
  { name: '+ fastify (REST API)', code: "await import('fastify')" },
  { name: '+ @vain/chain (viem)', code: "await import('@vain/chain')" },
  { name: '+ @vain/chain/zk (snarkjs, circomlibjs)', code: "await import('@vain/chain/zk')" },
]

async function measure(code: string): Promise<{ pss: number; anon: number; file: number }> {
  const script = `${code}\nglobalThis.gc?.(); globalThis.gc?.(); process.stdout.write('ready\\n'); setInterval(() => {}, 1000)`
  const child = spawn(node, ['--expose-gc', '--input-type=module', '-e', script], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr.on('data', (c) => (err += c))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c) => String(c).includes('ready') && resolve())
    child.once('exit', (c) => reject(new Error(`step exited ${c}: ${err.slice(-500)}`)))
  })
  await new Promise((r) => setTimeout(r, 500))
  const m = pssOf(child.pid as number)
  child.kill('SIGKILL')
  return m
}

console.log(
  `machine: ${cpus()[0]?.model} ×${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()} ${arch()}, node ${process.version}`,
)
console.log('\nbreakdown (cumulative, one process per step):      PSS MiB   step   anon   file')
let code = ''
let prev = 0
let base = 0
for (const s of steps) {
  code += `\n${s.code}`
  try {
    const m = await measure(code)
    if (base === 0) base = m.pss
    console.log(`  ${s.name.padEnd(52)} ${mib(m.pss)} ${mib(m.pss - prev)} ${mib(m.anon)} ${mib(m.file)}`)
    prev = m.pss
  } catch (e) {
    console.log(`  ${s.name.padEnd(52)} failed: ${(e as Error).message.split('\n')[0]}`)
  }
}

/** A whole `vain start` (MNIST shard 0/10), PSS once it says it is ready. */
async function vainStart(label: string, argv: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vain-mem-'))
  const child = spawn(node, [...argv, 'start', '-d', dir, '--profile', 'loopback', '--mnist-shard', '0/10'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c) => String(c).includes('"ready"') && resolve())
      child.once('exit', (c) => reject(new Error(`vain start exited ${c}`)))
    })
    await new Promise((r) => setTimeout(r, 5_000))
    const m = pssOf(child.pid as number)
    console.log(`  ${label.padEnd(52)} ${mib(m.pss)}   ×${(m.pss / base).toFixed(1)} bare Node (goal ≤ 80 MiB)`)
  } catch (e) {
    console.log(`  ${label.padEnd(52)} failed: ${(e as Error).message}`)
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}

console.log('\nwhole node process (vain start, MNIST shard 0/10, no chain):')
if (existsSync(join(app, 'dist', 'cli.js')))
  await vainStart('built JavaScript (dist/cli.js)', [join(app, 'dist', 'cli.js')])
else console.log('  built JavaScript: dist/cli.js missing (pnpm --filter @vain/node build)')
await vainStart('TypeScript through tsx (pnpm vain)', [
  '--conditions=vain-source',
  '--import',
  'tsx',
  join(app, 'src', 'cli.ts'),
])
spawnSync('true')
