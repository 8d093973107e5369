/**
 * The README's "Your own model and data" walkthrough, run as written: the shell lines of that
 * section's fenced `sh` blocks are read from apps/node/README.md (so the README cannot drift) and
 * run from the repo root — two real `vain start` processes on 127.0.0.1, the model imported, the
 * job submitted and watched, the trained model exported. Only the data dir (`.vain` → a temp dir)
 * and the API ports (8081/8082 → free ports) are swapped. Then: the exported model loads in
 * onnxruntime-node, beats chance on examples/csv/test.csv, and differs from the initial model.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { importOnnx, inputSizeOf, JobSpecSchema, loadLocalDataset, parseArchitecture } from '@vain/fl'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it, onTestFailed } from 'vitest'
import { loadAppConfig } from '../src/config.js'
import { dataSources } from '../src/local-data.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const README = readFileSync(join(ROOT, 'apps/node/README.md'), 'utf8')

/** The shell lines of the walkthrough section's `sh` blocks (comments and blank lines dropped). */
function walkthroughLines(): string[] {
  const start = README.indexOf('## Your own model and data')
  const end = README.indexOf('\n## ', start + 1)
  expect(start).toBeGreaterThan(0)
  const section = README.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
    m[1]!
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  )
}

/** Splits a command into words: single and double quotes, nothing else (no globbing). */
function words(command: string): string[] {
  const out: string[] = []
  let cur: string | undefined
  let quote: string | undefined
  for (const ch of command) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined
      else cur = (cur ?? '') + ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      cur ??= ''
    } else if (/\s/.test(ch)) {
      if (cur !== undefined) out.push(cur)
      cur = undefined
    } else cur = (cur ?? '') + ch
  }
  expect(quote, `unbalanced quotes in ${command}`).toBeUndefined()
  if (cur !== undefined) out.push(cur)
  return out
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/**
 * Just enough of a shell for the walkthrough: a `vain() { … }` function, `NAME=$(…)`,
 * `"$(…)"` in arguments, `$NAME`, pipes, `> FILE`, `2>&1`, a trailing `&`, `mkdir -p`.
 */
class MiniShell {
  readonly vars = new Map<string, string>()
  readonly background: ChildProcess[] = []
  vain: string[] | undefined

  constructor(readonly cwd: string) {}

  private argv(w: string[]): string[] {
    const [cmd, ...args] = w
    if (cmd === 'vain') {
      expect(this.vain, 'the walkthrough defines vain() first').toBeDefined()
      return this.argv([...(this.vain as string[]), ...args])
    }
    expect(cmd, `a command the walkthrough may use: ${w.join(' ')}`).toBe('node')
    return [process.execPath, ...args]
  }

  /** Runs `a | b | …`, the output of each the input of the next; resolves with the last one's stdout. */
  async pipeline(text: string, label: string): Promise<string> {
    let input = ''
    for (const part of text.split(' | ')) {
      const [exe, ...args] = this.argv(words(this.expand(part)))
      const child = spawn(exe as string, args, { cwd: this.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (c) => {
        stdout += c
      })
      child.stderr.on('data', (c) => {
        stderr += c
      })
      child.stdin.end(input)
      const code = await new Promise<number | null>((r) => child.on('close', r))
      if (code !== 0) throw new Error(`${label}: \`${part}\` exited ${code}\n${stderr}`)
      input = stdout
    }
    return input
  }

  /** `$(…)` in double quotes and `$NAME`. */
  expand(text: string): string {
    return text.replace(/\$([A-Z_]+)/g, (_, name: string) => {
      const v = this.vars.get(name)
      expect(v, `$${name} is set before use`).toBeDefined()
      return v as string
    })
  }

  async run(line: string): Promise<{ stdout?: string; child?: ChildProcess }> {
    const fn = /^vain\(\) \{ (.+) "\$@"; \}$/.exec(line)
    if (fn !== null) {
      this.vain = words(fn[1]!)
      return {}
    }
    const mk = /^mkdir -p (\S+)$/.exec(line)
    if (mk !== null) {
      mkdirSync(resolve(this.cwd, mk[1]!), { recursive: true })
      return {}
    }
    const assign = /^([A-Z_]+)=\$\((.+)\)$/.exec(line)
    if (assign !== null) {
      this.vars.set(assign[1]!, (await this.pipeline(assign[2]!, line)).trim())
      return {}
    }
    // "$(…)" substitutions inside arguments
    let cmd = line
    for (const m of line.matchAll(/"\$\(([^)]+)\)"/g))
      cmd = cmd.replace(m[0], `"${(await this.pipeline(m[1]!, line)).trim()}"`)
    const bg = /^(.*?) > (\S+) 2>&1 &$/.exec(cmd)
    if (bg !== null) {
      const [exe, ...args] = this.argv(words(this.expand(bg[1]!)))
      const log = resolve(this.cwd, bg[2]!)
      const child = spawn(exe as string, args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      child.stdout?.on('data', (c) => writeFileSync(log, c, { flag: 'a' }))
      child.stderr?.on('data', (c) => writeFileSync(log, c, { flag: 'a' }))
      this.background.push(child)
      return { child }
    }
    const redirect = /^(.*?) > (\S+)$/.exec(cmd)
    if (redirect !== null) {
      writeFileSync(resolve(this.cwd, redirect[2]!), await this.pipeline(redirect[1]!, line))
      return {}
    }
    return { stdout: await this.pipeline(cmd, line) }
  }

  /** Runs a foreground process that never ends by itself (a `vain start` in its own terminal). */
  start(line: string): ChildProcess {
    const [exe, ...args] = this.argv(words(this.expand(line)))
    const child = spawn(exe as string, args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    this.background.push(child)
    return child
  }

  /** SIGTERM to each started process group (the `vain` wrapper and its node), then wait for them. */
  async stop(): Promise<void> {
    await Promise.all(
      this.background.map(async (child) => {
        if (child.exitCode !== null || child.pid === undefined) return
        const closed = new Promise((r) => child.on('close', r))
        try {
          process.kill(-child.pid, 'SIGTERM')
        } catch {
          return
        }
        await closed
      }),
    )
  }
}

/** The first stdout line of a `vain start` that parses as its ready object. */
function readyLine(child: ChildProcess, log: string[]): Promise<{ peerId: string; api: string }> {
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString()
      for (const line of buf.split('\n')) {
        if (!line.startsWith('{"ready":true')) continue
        resolve(JSON.parse(line) as { peerId: string; api: string })
      }
    })
    child.stderr?.on('data', (c: Buffer) => log.push(c.toString()))
    child.on('close', (code) => reject(new Error(`vain start exited ${code}\n${log.join('')}`)))
  })
}

/** Accuracy of an ONNX inference model (input `input`, output `logits`) on rows `x` of width `F`. */
async function onnxAccuracy(
  file: string,
  data: { x: Float32Array; labels: Int32Array; size: number; features: number },
): Promise<{ accuracy: number; logits: Float32Array }> {
  const session = await ort.InferenceSession.create(file)
  try {
    const out = await session.run({ input: new ort.Tensor('float32', data.x, [data.size, data.features]) })
    const logits = out.logits!.data as Float32Array
    const C = logits.length / data.size
    let right = 0
    for (let i = 0; i < data.size; i++) {
      let best = 0
      for (let c = 1; c < C; c++) if (logits[i * C + c]! > logits[i * C + best]!) best = c
      if (best === data.labels[i]) right++
    }
    return { accuracy: right / data.size, logits }
  } finally {
    await session.release()
  }
}

describe('README walkthrough: your own model and data', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vain-walkthrough-'))
  let shell: MiniShell | undefined
  afterAll(async () => {
    await shell?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('two nodes train the imported model on their own CSV files; the exported model beats chance', async () => {
    const [portA, portB] = [await freePort(), await freePort()]
    const lines = walkthroughLines().map((l) =>
      l
        .replaceAll('.vain', join(tmp, 'vain'))
        .replaceAll('127.0.0.1:8081', `127.0.0.1:${portA}`)
        .replaceAll('127.0.0.1:8082', `127.0.0.1:${portB}`)
        .replace('--api-port 8081', `--api-port ${portA}`)
        .replace('--api-port 8082', `--api-port ${portB}`),
    )
    const next = (pattern: RegExp): string => {
      const line = lines.shift()
      expect(line, `the walkthrough goes on with ${pattern}`).toMatch(pattern)
      return line as string
    }
    const sh = new MiniShell(ROOT)
    shell = sh
    const job = JSON.parse(readFileSync(join(ROOT, 'examples/csv/job.json'), 'utf8'))

    // terminal 1: node A in the foreground; then terminal 2
    await sh.run(next(/^vain\(\) \{/))
    const logA: string[] = []
    // on failure, the nodes' logs say why
    onTestFailed(() => {
      let logB = ''
      try {
        logB = readFileSync(join(tmp, 'vain', 'node-b.log'), 'utf8')
      } catch {}
      console.error(`node A:\n${logA.join('').slice(-6000)}\nnode B:\n${logB.slice(-6000)}`)
    })
    const a = await readyLine(sh.start(next(/^vain start -d \S+node-a -c examples\/csv\/node-a\.json/)), logA)
    expect(a.api).toBe(`http://127.0.0.1:${portA}`)
    if (lines[0]?.startsWith('vain()')) lines.shift() // defined again in terminal 2
    await sh.run(next(/^mkdir -p /))
    await sh.run(
      next(
        /^vain start -d \S+node-b -c examples\/csv\/node-b\.json .*--bootstrap "\$\(node examples\/bootstrap-address\.mjs/,
      ),
    )

    // import the model: its content id is the one the job file names
    const imported = await sh.run(next(/^vain model import examples\/csv\/model\.onnx /))
    expect(imported.stdout?.trim()).toBe(job.initialModel)
    expect(README, 'the README shows the id it prints').toContain(job.initialModel)

    // committee and trainers: both nodes, once they have met
    await sh.run(next(/^node examples\/with-participants\.mjs examples\/csv\/job\.json /))
    const withPeers = JSON.parse(readFileSync(join(tmp, 'vain', 'csv-job.json'), 'utf8'))
    expect(withPeers.participants.aggregators).toHaveLength(2)
    expect(withPeers.participants.aggregators).toContain(a.peerId)

    await sh.run(next(/^JOB=\$\(vain job submit /))
    const jobId = sh.vars.get('JOB') as string
    expect(jobId).toMatch(/^[0-9a-f]{64}$/)
    const status = await sh.run(next(/^vain job status /))
    expect(status.stdout).toContain(jobId)

    // watch: run `vain job status` again until two rounds are done (no wall-clock assertion)
    const modelLine = next(/^MODEL=\$\(vain job status .* --json \|/)
    const statusJson = `vain job status --api http://127.0.0.1:${portA} ${jobId} --json`
    for (;;) {
      const s = JSON.parse(await sh.pipeline(statusJson, 'status')) as { history?: unknown[]; finished?: boolean }
      if ((s.history?.length ?? 0) >= 2) break
      expect(s.finished, `the job ended early: ${JSON.stringify(s)}`).not.toBe(true)
      await new Promise((r) => setTimeout(r, 1000))
    }
    await sh.run(modelLine)
    const model = sh.vars.get('MODEL') as string
    expect(model).toMatch(/^bafy/)
    expect(model).not.toBe(job.initialModel)

    await sh.run(next(/^vain model export .* -o \S+trained\.onnx$/))
    expect(lines, 'every line of the walkthrough ran').toEqual([])

    // the exported model: loads in onnxruntime-node, beats chance (1/3) on the held-out rows, and
    // is not the initial model
    const test = loadLocalDataset(job.dataset.params, join(ROOT, 'examples/csv/test.csv'))
    const trained = await onnxAccuracy(join(tmp, 'vain', 'trained.onnx'), test)
    const initial = await onnxAccuracy(join(ROOT, 'examples/csv/model.onnx'), test)
    expect(trained.accuracy).toBeGreaterThan(0.6)
    expect(trained.logits).not.toEqual(initial.logits)

    // node A evaluated the round models on its own file (vain_accuracy in /metrics)
    await expect
      .poll(
        async () => (await (await fetch(`${a.api}/metrics`)).text()).match(/^vain_accuracy\{job="\w+"\} (\S+)/m)?.[1],
        {
          timeout: 60_000,
          interval: 500,
        },
      )
      .toBeDefined()
  }, 300_000)

  it('every example job is a valid spec whose model and node data fit it', async () => {
    for (const kind of ['csv', 'mnist']) {
      const spec = JobSpecSchema.parse(JSON.parse(readFileSync(join(ROOT, 'examples', kind, 'job.json'), 'utf8')))
      const model = importOnnx(readFileSync(join(ROOT, 'examples', kind, 'model.onnx')))
      expect(model.architecture, kind).toEqual(parseArchitecture(spec.architecture))
      for (const node of ['node-a', 'node-b']) {
        const file = join(ROOT, 'examples', kind, `${node}.json`)
        const sources = dataSources((await loadAppConfig(file, { dataDir: tmp })).data)
        if (kind === 'mnist') {
          expect(sources.mnist, file).toBeDefined()
          continue
        }
        const data = loadLocalDataset(spec.dataset.params, sources.paths[spec.dataset.name] as string)
        expect(data.features).toBe(inputSizeOf(model.architecture))
        expect(data.numClasses).toBe(model.architecture.numClasses)
      }
    }
  })

  it('the examples are what examples/generate.mts writes (fixed seeds)', async () => {
    const out = join(tmp, 'generated')
    const sh = new MiniShell(ROOT)
    await sh.pipeline(`node --import tsx examples/generate.mts ${out}`, 'generate')
    for (const file of [
      'csv/node-a.csv',
      'csv/node-b.csv',
      'csv/test.csv',
      'csv/model.onnx',
      'csv/job.json',
      'mnist/model.onnx',
      'mnist/job.json',
    ]) {
      const made = readFileSync(join(out, file))
      const kept = readFileSync(join(ROOT, 'examples', file))
      // JSON compared as values (the formatter lays the committed files out its own way)
      if (file.endsWith('.json'))
        expect(isDeepStrictEqual(JSON.parse(made.toString()), JSON.parse(kept.toString())), file).toBe(true)
      else expect(made.equals(kept), file).toBe(true)
    }
  }, 120_000)
})
