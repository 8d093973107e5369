/**
 * A chain outside the nodes: `vain chain up` runs the chain in its own process and writes a chain
 * file; three `vain start --chain FILE` processes stake (through the CLI), register, train and
 * settle rounds against it. The job's creator is a node in this process (it holds the model).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { connectVain, type VainAddresses } from '@vain/chain'
import { createModel, encodeModel, type JobSpecInput, mlp } from '@vain/fl'
import { parseEther } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devAccountKey } from '../src/chain/connect.js'
import type { ChainServiceEvents } from '../src/chain/service.js'
import { ChainConfigSchema } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const NODE_ARGS = ['--conditions=vain-source', '--import', 'tsx', CLI]
const address = (i: number) =>
  mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: i }).address

/** Spawns the CLI; resolves once a stdout line starting with `readyPrefix` appears. */
function background(
  args: string[],
  readyPrefix: string,
): Promise<{ proc: ChildProcess; ready: Record<string, unknown>; stderr: () => string }> {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    if (process.env.VAIN_TEST_LOGS) process.stderr.write(d)
  })
  return new Promise((resolve, reject) => {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith(readyPrefix))
      if (line !== undefined) resolve({ proc, ready: JSON.parse(line), stderr: () => stderr })
    })
    proc.once('close', (code) => reject(new Error(`vain ${args[0]} exited ${code} before it was ready:\n${stderr}`)))
  })
}

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...NODE_ARGS, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => {
      stdout += d
    })
    p.stderr.on('data', (d) => {
      stderr += d
    })
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function stopProc(p: ChildProcess | undefined): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    // vain start exits by itself 30 s after SIGINT at the latest; SIGKILL is the last resort
    const timer = setTimeout(() => p.kill('SIGKILL'), 45_000)
    p.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
    p.kill('SIGINT')
  })
}

describe('vain chain up: a chain in its own process, three vain start processes against it', () => {
  let root: string
  let chainFile: string
  let chainProc: ChildProcess | undefined
  let rpcUrl: string
  let addresses: VainAddresses
  const nodes: { proc: ChildProcess; ready: Record<string, unknown>; stderr: () => string }[] = []
  let observer: RunningNode | undefined

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-chain-up-'))
    chainFile = join(root, 'chain.json')
    const up = await background(['chain', 'up', '--port', '0', '--out', chainFile, '--fund', '3'], '{"ready":true')
    chainProc = up.proc
    rpcUrl = up.ready.rpcUrl as string
    expect(up.stderr()).toContain('DEVELOPMENT PARAMETERS')
    const file = JSON.parse(await readFile(chainFile, 'utf8'))
    addresses = file.chain.addresses
    expect(file).toMatchObject({ chain: { rpcUrl }, profile: 'development' })
  }, 120_000)

  afterAll(async () => {
    await Promise.all([observer?.stop().catch(() => {}), ...nodes.map((n) => stopProc(n.proc))])
    await stopProc(chainProc)
    if (root !== undefined) await rm(root, { recursive: true, force: true })
  }, 240_000)

  it('the chain commands read the chain file; a key file open to others is refused, a 0600 one signs', async () => {
    // account 1 stakes from a key file (never on the command line); accounts 2 and 3 use --account
    const keyFile = join(root, 'key1')
    await writeFile(keyFile, `${devAccountKey(1)}\n`)
    await chmod(keyFile, 0o644)
    const open = await run(['stake', '10000', '--chain', chainFile, '--key-file', keyFile, '--yes'])
    expect(open.code).toBe(2)
    expect(open.stderr).toContain(`chmod 600 ${keyFile}`)
    await chmod(keyFile, 0o600)
    const staked = await run(['stake', '10000', '--chain', chainFile, '--key-file', keyFile, '--yes', '--json'])
    expect(staked.code, staked.stderr).toBe(0)
    expect(JSON.parse(staked.stdout)).toMatchObject({ ok: true, tier: 3 })
    for (const i of [2, 3]) {
      const r = await run(['stake', '10000', '--chain', chainFile, '--account', String(i), '--yes'])
      expect(r.code, r.stderr).toBe(0)
    }
    const bad = await run(['tier', '--chain', join(root, 'missing.json')])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('missing.json')
  }, 120_000)

  it('three vain start processes register, train and settle rounds on the separate chain', async () => {
    const keyFile = join(root, 'key1')
    const common = ['--chain', chainFile, '--profile', 'loopback', '--no-api', '--roles', 'trainer,aggregator']
    nodes.push(
      await background(
        ['start', '-d', join(root, 'n1'), '--key-file', keyFile, '--mnist-shard', '0/3', ...common],
        '{"ready":true',
      ),
    )
    const boot = (nodes[0]!.ready.multiaddrs as string[])[0]!
    for (const i of [2, 3]) {
      nodes.push(
        await background(
          [
            'start',
            '-d',
            join(root, `n${i}`),
            '--account',
            String(i),
            '--mnist-shard',
            `${i - 1}/3`,
            '-b',
            boot,
            ...common,
          ],
          '{"ready":true',
        ),
      )
    }
    const ids = nodes.map((n) => n.ready.peerId as string)
    const read = connectVain({ rpcUrl, addresses })
    // each node registered its own peer id for its own address
    await waitFor(
      async () => (await Promise.all(ids.map((id) => read.registry.nodeOf(id)))).every((a) => a !== undefined),
      120_000,
      'the three nodes register on chain',
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${nodes.map((n) => n.stderr().slice(-1500)).join('\n---\n')}`)
    })
    for (const [k, id] of ids.entries()) {
      expect((await read.registry.nodeOf(id))?.toLowerCase()).toBe(address(k + 1).toLowerCase())
    }

    // the job's creator: account 0 (the deployer: it may open rounds), staked for the creators' tier
    const admin = connectVain({ rpcUrl, addresses, privateKey: devAccountKey(0) })
    await admin.staking.stake(parseEther('100'))
    const quiet = createLogger({
      level: 'warn',
      json: false,
      stream: new Writable({ write: (_c, _e, cb) => cb() }),
    })
    observer = await startVainNode(
      {
        dataDir: join(root, 'obs'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [boot],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: 'warn',
        json: false,
        chain: ChainConfigSchema.parse({ rpcUrl, account: 0, addresses, rewardPerRound: '30', pollMs: 200 }),
      },
      quiet,
    )
    const obs = observer
    await waitFor(
      () => obs.chain?.status().registeredPeerId === obs.node.peerId.toString(),
      60_000,
      'creator registers',
    )
    await waitFor(() => obs.node.authenticatedPeers().length >= 3, 60_000, 'the creator meets the three nodes')
    const settled: ChainServiceEvents['round:settled'][] = []
    obs.chain?.on('round:settled', (e) => settled.push(e))

    const arch = mlp(784, [16], 10)
    const spec: JobSpecInput = {
      name: 'separate-chain',
      architecture: arch,
      initialModel: await obs.models.put(encodeModel(createModel(arch, { seed: 5 }))),
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8' },
      rounds: 2,
      roundDeadlineMs: 20_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 4 * 1024 * 1024,
      participants: { aggregators: ids, trainers: ids },
    }
    const { jobId } = await obs.participant.submitJob(spec)
    const done = await obs.participant.waitForJob(jobId)
    expect(done?.finished).toBe(true)
    await waitFor(() => settled.length >= 1, 120_000, 'a round settled on the separate chain')
    for (const s of settled) expect((await read.rounds.roundOf(s.roundId)).status).toBe('settled')
    // the trainers in the other processes claim their rewards from the separate chain
    const roundId = settled[0]!.roundId
    await waitFor(
      async () => (await Promise.all([1, 2, 3].map((i) => read.rounds.isClaimed(roundId, address(i))))).some(Boolean),
      120_000,
      'a trainer process claims its reward',
    )
    // the chain is another process: its pid is not ours and it is still serving
    expect(chainProc?.pid).not.toBe(process.pid)
    expect(await read.publicClient.getBlockNumber()).toBeGreaterThan(0n)
  }, 400_000)
})

describe('vain chain up --params production --genesis N', () => {
  it('hands every admin role to governance and starts the genesis set at tier 3; others need reputation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vain-chain-prod-'))
    const file = join(dir, 'chain.json')
    const up = await background(
      ['chain', 'up', '--port', '0', '--out', file, '--fund', '2', '--params', 'production', '--genesis', '1'],
      '{"ready":true',
    )
    try {
      expect(up.stderr()).toContain('every admin role is held by governance')
      expect(up.stderr()).not.toContain('DEVELOPMENT PARAMETERS')
      const { chain } = JSON.parse(await readFile(file, 'utf8'))
      for (const i of [1, 2]) {
        const c = connectVain({ rpcUrl: chain.rpcUrl, addresses: chain.addresses, privateKey: devAccountKey(i) })
        await c.staking.stake(parseEther('10000'))
      }
      const read = connectVain({ rpcUrl: chain.rpcUrl, addresses: chain.addresses })
      expect((await read.standing(address(1))).tier).toBe(3) // genesis: reputation from the start
      expect((await read.standing(address(2))).tier).toBe(1) // the same stake, no reputation yet
    } finally {
      await stopProc(up.proc)
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
