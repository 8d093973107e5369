/**
 * The commander CLI: --help on every command, exit codes, and the commands that talk to a running
 * node (status, peers, job list|status|cancel, model import|export) against real `vain start`
 * processes on 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createModel, encodeModel, exportOnnx, importOnnx, mlp } from '@vain/fl'
import { manifestCid } from '@vain/memory'
import type { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callerCwd, resolvePath } from '../src/commands/common.js'
import { buildProgram } from '../src/commands/program.js'
import { renderTable } from '../src/commands/table.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const NODE_ARGS = ['--conditions=vain-source', '--import', 'tsx', CLI]

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI (from sources) without blocking the test worker. */
function vain(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VAIN_API_TOKEN: undefined, VAIN_INTERACTION: undefined, ...env },
  })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  return new Promise((resolve) => proc.once('close', (status) => resolve({ status, stdout, stderr })))
}

/** `vain start` in the background: resolves once it printed its ready line. */
function startNode(
  args: string[],
): Promise<{ proc: ChildProcess; ready: { api: string | null; peerId: string; multiaddrs: string[] } }> {
  const proc = spawn(process.execPath, [...NODE_ARGS, 'start', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
  })
  return new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready":true'))
      if (line !== undefined) resolve({ proc, ready: JSON.parse(line) })
    })
    proc.once('close', (status) => reject(new Error(`vain start exited ${status} before it was ready:\n${stderr}`)))
  })
}

async function stop(proc: ChildProcess | undefined): Promise<void> {
  if (proc === undefined || proc.exitCode !== null) return
  const closed = new Promise((r) => proc.once('close', r))
  proc.kill('SIGINT')
  await closed
}

/** Every command's path (`['job', 'submit']`…), depth first. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])])
}

describe('vain --help and usage errors', () => {
  it('every command and subcommand answers --help with its usage (and exits 0)', async () => {
    const paths = commandPaths(buildProgram())
    // the commands the issue names, and the ones the CLI had before commander
    for (const expected of [
      'start',
      'demo',
      'status',
      'peers',
      'resources',
      'job submit',
      'job list',
      'job status',
      'job cancel',
      'model import',
      'model export',
      'stake',
      'unstake',
      'tier',
      'propose',
      'vote',
      'proposal',
      'chain up',
      'chain deploy',
    ]) {
      expect(paths.map((p) => p.join(' '))).toContain(expected)
    }
    for (const path of [[], ...paths]) {
      const program = buildProgram()
      let text = ''
      const capture = (c: Command): void => {
        c.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) })
        c.exitOverride()
        for (const sub of c.commands) capture(sub)
      }
      capture(program)
      const err = await program.parseAsync([...path, '--help'], { from: 'user' }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; exitCode?: number },
      )
      expect(err?.code, path.join(' ')).toBe('commander.helpDisplayed')
      expect(err?.exitCode).toBe(0)
      expect(text, path.join(' ')).toContain(`Usage: vain${path.length > 0 ? ` ${path.join(' ')}` : ''}`)
      expect(text, path.join(' ')).toMatch(/Exit codes: 0 ok, 1 runtime failure/)
    }
  })

  it('vain help COMMAND, vain COMMAND -h and vain with no command print help and exit 0', async () => {
    const [help, short, bare] = await Promise.all([vain(['help', 'peers']), vain(['model', 'import', '-h']), vain([])])
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('Usage: vain peers')
    expect(short.status).toBe(0)
    expect(short.stdout).toContain('Usage: vain model import')
    expect(bare.status).toBe(0)
    expect(bare.stdout).toContain('interaction levels')
  })

  it('an unknown option, command or --interaction level exits 2 with a clear message and no stack trace', async () => {
    const runs = await Promise.all([
      vain(['peers', '--api', 'http://127.0.0.1:1', '--frobnicate']),
      vain(['frobnicate']),
      vain(['--interaction', 'loud', 'status']),
      vain(['stake', '5', '--frobnicate']),
      vain(['chain', 'up', '--frobnicate']),
      vain(['job', 'status']),
      vain(['job']),
    ])
    for (const r of runs) {
      expect(r.status, r.stderr).toBe(2)
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    }
    expect(runs[0]?.stderr).toContain("unknown option '--frobnicate'")
    expect(runs[1]?.stderr).toContain("unknown command 'frobnicate'")
    expect(runs[2]?.stderr).toMatch(/Allowed choices are none, minimal, normal, verbose/)
    expect(runs[3]?.stderr).toMatch(/frobnicate/)
    expect(runs[4]?.stderr).toMatch(/frobnicate/)
    expect(runs[5]?.stderr).toContain("missing required argument 'JOB_ID'")
    // a group without its subcommand: its help, on stderr, as a usage error
    expect(runs[6]?.stderr).toContain('Usage: vain job [options] [command]')
  })

  it('bad input to the API commands: clear messages, 2 for usage, 1 when the node cannot be reached', async () => {
    const [noApi, badId, noFile, down] = await Promise.all([
      vain(['status']),
      vain(['job', 'status', '--api', 'http://127.0.0.1:1', 'not-a-job']),
      vain(['model', 'import', '--api', 'http://127.0.0.1:1', 'missing.onnx']),
      vain(['peers', '--api', 'http://127.0.0.1:1']),
    ])
    expect(noApi.status).toBe(2)
    expect(noApi.stderr).toContain('--api URL is required')
    expect(badId.status).toBe(2)
    expect(badId.stderr).toContain("'not-a-job' is not a job id")
    expect(noFile.status).toBe(2)
    // relative to where vain runs (the test's cwd here)
    expect(noFile.stderr).toContain(`cannot read ${join(process.cwd(), 'missing.onnx')}`)
    expect(down.status).toBe(1)
    expect(down.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:1 .*is it running\?/)
    for (const r of [noApi, badId, noFile, down]) expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('relative paths resolve against the caller: INIT_CWD under the package scripts, else the cwd', () => {
    expect(callerCwd({ INIT_CWD: '/somewhere', npm_lifecycle_event: 'vain' })).toBe('/somewhere')
    expect(callerCwd({ INIT_CWD: '/somewhere', npm_lifecycle_event: 'test' })).toBe(process.cwd())
    expect(callerCwd({})).toBe(process.cwd())
    expect(resolvePath('a/b.json')).toBe(join(process.cwd(), 'a/b.json'))
    expect(resolvePath('/abs/b.json')).toBe('/abs/b.json')
  })

  it('tables align their columns', () => {
    const lines = renderTable(
      [{ header: 'NAME' }, { header: 'N', right: true }],
      [
        ['a', '1'],
        ['longer', '100'],
      ],
    )
    expect(lines).toEqual(['NAME      N', 'a         1', 'longer  100'])
  })
})

describe('vain status, peers, job and model against running nodes', () => {
  let dir: string
  let dirB: string
  let a: Awaited<ReturnType<typeof startNode>> | undefined
  let b: Awaited<ReturnType<typeof startNode>> | undefined
  let api: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-cli-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'vain-cli-b-'))
    a = await startNode(['--data-dir', dir, '--profile', 'loopback', '--roles', 'validator', '--api-port', '0'])
    api = a.ready.api as string
    b = await startNode([
      '--data-dir',
      dirB,
      '--profile',
      'loopback',
      '--roles',
      'validator',
      '--no-api',
      '--bootstrap',
      a.ready.multiaddrs[0] as string,
    ])
  }, 240_000)
  afterAll(async () => {
    await Promise.all([stop(a?.proc), stop(b?.proc)])
    await rm(dir, { recursive: true, force: true })
    await rm(dirB, { recursive: true, force: true })
  })

  it('peers: a table with the other node (aligned columns), --json the raw list; status names the node', {
    timeout: 600_000,
  }, async () => {
    // wait for the second node to be connected and authenticated (an event on the node: poll the API)
    let peers: Array<{ peerId: string; authenticated: boolean }> = []
    while (!peers.some((p) => p.peerId === b?.ready.peerId && p.authenticated)) {
      const r = await vain(['peers', '--api', api, '--json'])
      expect(r.status, r.stderr).toBe(0)
      peers = JSON.parse(r.stdout)
      if (!peers.some((p) => p.authenticated)) await new Promise((res) => setTimeout(res, 500))
    }
    const [table, verbose, status, none] = await Promise.all([
      vain(['peers', '--api', api]),
      vain(['--interaction', 'verbose', 'peers', '--api', api]),
      vain(['status', '--api', api]),
      vain(['status', '--api', api, '--interaction', 'none']),
    ])
    expect(table.status, table.stderr).toBe(0)
    const lines = table.stdout.split('\n')
    expect(lines[0]).toMatch(/^PEER ID\s+AUTH\s+ROLES$/)
    const row = lines.find((l) => l.startsWith(b?.ready.peerId as string)) as string
    expect(row).toMatch(/\s+yes\s+validator$/)
    // columns aligned: AUTH starts at the same offset in the header and the row
    expect(row.indexOf('yes')).toBe(lines[0]?.indexOf('AUTH'))
    expect(table.stdout).toMatch(/1 peers connected, 1 authenticated/)
    expect(verbose.stdout.split('\n')[0]).toMatch(/^PEER ID\s+AUTH\s+ROLES\s+CONNS\s+RTT\s+OK\s+IN\s+OUT$/)
    expect(status.status, status.stderr).toBe(0)
    expect(status.stdout).toContain(`peer id     ${a?.ready.peerId}`)
    expect(status.stdout).toMatch(/roles\s+validator/)
    expect(status.stdout).toMatch(/chain\s+none/)
    expect(JSON.parse(none.stdout)).toMatchObject({ peerId: a?.ready.peerId, roles: ['validator'] })
  })

  it('model import prints the content id; model export writes the same model back as ONNX', {
    timeout: 600_000,
  }, async () => {
    const model = createModel(mlp(784, [8], 10), { seed: 7 })
    const file = join(dir, 'model.onnx')
    await writeFile(file, exportOnnx(model))
    const bad = join(dir, 'not-a-model.onnx')
    await writeFile(bad, 'not an onnx file')
    const [noToken, imported, json, refused] = await Promise.all([
      vain(['model', 'import', '--api', api, file]),
      vain(['model', 'import', '--api', api, '-d', dir, file]),
      vain(['model', 'import', '--api', api, '-d', dir, file, '--json']),
      vain(['model', 'import', '--api', api, '-d', dir, bad]),
    ])
    expect(noToken.status).toBe(2)
    expect(noToken.stderr).toMatch(/model import needs the node's API token: --data-dir DIR .* or VAIN_API_TOKEN/)
    expect(imported.status, imported.stderr).toBe(0)
    const cid = imported.stdout.trim()
    expect(cid).toMatch(/^bafy[a-z2-7]{20,}$/)
    expect(JSON.parse(json.stdout)).toMatchObject({ address: cid, params: model.params.length })
    const out = join(dir, 'back.onnx')
    const exported = await vain(['model', 'export', '--api', api, cid, '-o', out])
    expect(exported.status, exported.stderr).toBe(0)
    const back = importOnnx(await readFile(out))
    expect(Array.from(back.params)).toEqual(Array.from(model.params))
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/the node refused: \w+ \(HTTP 400\)/)
    expect(refused.stderr).not.toMatch(/\n\s+at /)
  })

  it('job list, status and cancel; an unknown job and a job naming no committee fail clearly', {
    timeout: 600_000,
  }, async () => {
    const initialModel = manifestCid(encodeModel(createModel(mlp(784, [8], 10), { seed: 1 }))).toString()
    const spec = {
      name: 'cli-list',
      architecture: mlp(784, [8], 10),
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'fp32' },
      rounds: 3,
      roundDeadlineMs: 60_000,
      minUpdates: 1,
      committeeSize: 1,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 16 * 1024 * 1024,
    }
    // without a chain and without participants.aggregators: refused at once, saying what to add
    const orphan = join(dir, 'orphan.json')
    await writeFile(orphan, JSON.stringify(spec))
    const [empty, refused] = await Promise.all([
      vain(['job', 'list', '--api', api]),
      vain(['job', 'submit', '--api', api, '-d', dir, orphan]),
    ])
    expect(empty.stdout.trim()).toBe('no jobs on this node')
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain('NoCommittee')
    expect(refused.stderr).toContain('participants.aggregators')
    const file = join(dir, 'job.json')
    await writeFile(file, JSON.stringify({ ...spec, participants: { aggregators: [a?.ready.peerId] } }))
    const submitted = await vain(['job', 'submit', '--api', api, '-d', dir, file])
    expect(submitted.status, submitted.stderr).toBe(0)
    const { jobId } = JSON.parse(submitted.stdout) as { jobId: string }
    const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
    const [list, listJson, status, unknown, noToken, wrong] = await Promise.all([
      vain(['job', 'list', '--api', api]),
      vain(['job', 'list', '--api', api, '--json']),
      vain(['job', 'status', '--api', api, jobId]),
      vain(['job', 'status', '--api', api, 'f'.repeat(64)]),
      vain(['job', 'cancel', '--api', api, jobId]),
      vain(['job', 'cancel', '--api', api, jobId], { VAIN_API_TOKEN: '0'.repeat(64) }),
    ])
    expect(list.status, list.stderr).toBe(0)
    const [header, row] = list.stdout.split('\n')
    expect(header).toMatch(/^JOB ID\s+NAME\s+STATE\s+ROUND\s+LATEST MODEL$/)
    expect(row).toMatch(new RegExp(`^${jobId}\\s+cli-list\\s+running\\s+0/3\\s+${initialModel}$`))
    expect(JSON.parse(listJson.stdout)).toEqual([
      expect.objectContaining({ jobId, name: 'cli-list', state: 'running' }),
    ])
    expect(status.stdout).toMatch(/state\s+running/)
    expect(status.stdout).toMatch(/rounds\s+0 completed of 3/)
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain(`JobNotFound (HTTP 404): no job ${'f'.repeat(64)} on this node`)
    expect(noToken.status).toBe(2)
    expect(noToken.stderr).toContain("job cancel needs the node's API token")
    expect(wrong.status).toBe(1)
    expect(wrong.stderr).toMatch(/InvalidToken \(HTTP 401\)/)
    // not on a terminal: no question (scripts); --yes is accepted
    const cancel = await vain(['job', 'cancel', '--api', api, jobId, '--yes'], { VAIN_API_TOKEN: token })
    expect(cancel.status, cancel.stderr).toBe(0)
    expect(JSON.parse(cancel.stdout)).toEqual({ jobId, ended: 'cancelled' })
    // no longer listed as running; its status says cancelled
    const [afterList, afterStatus] = await Promise.all([
      vain(['job', 'list', '--api', api]),
      vain(['job', 'status', '--api', api, jobId]),
    ])
    expect(afterList.stdout.trim()).toBe('no jobs on this node')
    expect(afterStatus.stdout).toMatch(/state\s+cancelled/)
  })
})
