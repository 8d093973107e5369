/**
 * The node on a real chain: a local Hardhat network (`startLocalChain`) with the vAIn suite, real
 * vAIn nodes on 127.0.0.1 in this process, and the `vain` CLI as a user runs it.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import {
  connectVain,
  deployVain,
  type LocalChain,
  settlementResultTypedData,
  startLocalChain,
  type VainAddresses,
} from '@vain/chain'
import { createModel, encodeModel, type JobSpecInput, mlp } from '@vain/fl'
import { type Address, parseEther } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEV_DEPLOY_PARAMS } from '../src/chain/connect.js'
import { type ChainServiceEvents, SETTLE_TOPIC } from '../src/chain/service.js'
import { type AppConfig, ChainConfigSchema } from '../src/config.js'
import { createLogger, type Logger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

/** Runs the CLI (async: the chain answers from this process). */
function vain(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--conditions=vain-source', '--import', 'tsx', CLI, ...args], {
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

/** A logger whose lines are kept for assertions. */
function capture(level: 'info' | 'debug' = 'info'): { log: Logger; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      if (process.env.VAIN_TEST_LOGS) process.stderr.write(chunk)
      cb()
    },
  })
  return { log: createLogger({ level, json: false, stream }), lines }
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

describe('vAIn nodes on a local chain', () => {
  let root: string
  let chain: LocalChain
  let addresses: VainAddresses
  let chainFile: string
  const nodes: RunningNode[] = []
  const logs: string[][] = []
  let observer: RunningNode
  const settledRounds: ChainServiceEvents['round:settled'][] = []
  const account = (i: number) => chain.accounts[i] as { address: Address; privateKey: `0x${string}` }
  const config = (i: number, accountIndex: number, bootstrap: string[], shards: number): AppConfig => ({
    dataDir: join(root, `n${i}`),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    profile: 'loopback',
    roles: ['trainer', 'aggregator'],
    apiPort: null,
    data: { dataset: 'mnist', shard: i, shards, alpha: 1, seed: 1 },
    logLevel: 'info',
    json: false,
    chain: ChainConfigSchema.parse({ rpcUrl: chain.rpcUrl, account: accountIndex, addresses, pollMs: 200 }),
  })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-chain-'))
    chain = await startLocalChain({ accounts: 10 })
    ;({ addresses } = await deployVain(chain.walletClient(0), DEV_DEPLOY_PARAMS))
    chainFile = join(root, 'chain.json')
    await writeFile(chainFile, JSON.stringify({ chain: { rpcUrl: chain.rpcUrl, addresses } }))
    const admin = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(0).privateKey })
    for (const i of [1, 2, 3, 4]) await admin.token.transfer(account(i).address, parseEther('12000'))
    // the observer (account 0) creates the jobs: the network asks job creators for tier 1 (a stake)
    await admin.staking.stake(parseEther('100'))
    // accounts 2 and 3 stake for tier 3 here; account 1 stakes through the CLI (first test); account 4 only for tier 2
    await Promise.all(
      [2, 3].map((i) =>
        connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(i).privateKey }).staking.stake(
          parseEther('10000'),
        ),
      ),
    )
    await connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(4).privateKey }).staking.stake(
      parseEther('1000'),
    )
  })

  afterAll(async () => {
    await Promise.allSettled([observer?.stop(), ...nodes.map((n) => n.stop())])
    await chain?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('vain stake, then vain tier shows the new stake and tier; stake is never spent without --yes off a terminal', async () => {
    const base = ['--config', chainFile, '--account', '1']
    const unconfirmed = await vain(['stake', '10000', ...base])
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.stderr).toMatch(/not on a terminal, pass --yes/)

    const staked = await vain(['stake', '10000', '--yes', '--json', ...base])
    expect(staked.code, staked.stderr).toBe(0)
    const s = JSON.parse(staked.stdout)
    expect(s).toMatchObject({ ok: true, action: 'stake', staked: '10000', tier: 3 })

    const tier = await vain(['tier', ...base])
    expect(tier.code, tier.stderr).toBe(0)
    expect(tier.stdout).toContain(`address     ${account(1).address}`)
    expect(tier.stdout).toMatch(/stake\s+10000 VAIN/)
    expect(tier.stdout).toMatch(/tier\s+3/)
    expect(tier.stdout).toMatch(/✓ aggregator/)

    // a revert is decoded into the typed error's message: an unfunded account cannot stake
    const broke = await vain(['stake', '50', '--yes', '--config', chainFile, '--account', '7'])
    expect(broke.code).toBe(1)
    expect(broke.stderr).toMatch(/holds 0 VAIN, needs 50 VAIN/)
  }, 60_000)

  it('a node with too little stake is refused the aggregator role, says why, and is never on a committee', async () => {
    const c0 = capture()
    nodes.push(await startVainNode(config(0, 1, [], 4), c0.log))
    logs.push(c0.lines)
    const boot = [String(nodes[0]?.node.multiaddrs[0])]
    for (const [i, acct] of [
      [1, 2],
      [2, 3],
      [3, 4],
    ] as const) {
      const c = capture()
      nodes.push(await startVainNode(config(i, acct, boot, 4), c.log))
      logs.push(c.lines)
    }
    const weak = nodes[3] as RunningNode
    await waitFor(() => weak.chain?.status().roles.aggregator !== undefined, 20_000, 'the weak node checked itself')
    const status = weak.chain?.status()
    expect(status?.roles.trainer).toEqual({ eligible: true })
    expect(status?.roles.aggregator?.eligible).toBe(false)
    expect(status?.roles.aggregator?.reason).toMatch(
      new RegExp(`node ${account(4).address} is tier 2 but needs tier 3 or higher`),
    )
    expect(logs[3]?.join('')).toMatch(/aggregator role refused: node 0x[0-9a-fA-F]{40} is tier 2 but needs tier 3/)
    // the CLI shows the same verdict
    const tier = await vain(['tier', '--config', chainFile, '--account', '4', '--json'])
    const t = JSON.parse(tier.stdout)
    expect(t.tier).toBe(2)
    expect(t.roles.find((r: { role: string }) => r.role === 'aggregator')).toMatchObject({
      eligible: false,
      error: 'TierTooLowError',
    })
    // every node registered its peer id
    await waitFor(
      async () =>
        (
          await Promise.all(nodes.map((n) => n.chain?.connection?.vain.registry.nodeOf(n.node.peerId.toString())))
        ).every((a) => a !== undefined),
      20_000,
      'registered',
    )
  }, 60_000)

  it('a round is settled on chain by its committee and the trainers claim their rewards', async () => {
    observer = await startVainNode(
      {
        dataDir: join(root, 'obs'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [String(nodes[0]?.node.multiaddrs[0])],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: 'warn',
        json: false,
        chain: ChainConfigSchema.parse({
          rpcUrl: chain.rpcUrl,
          account: 0,
          addresses,
          rewardPerRound: '30',
          pollMs: 200,
        }),
      },
      capture().log,
    )
    await waitFor(() => observer.node.authenticatedPeers().length >= nodes.length, 120_000, 'observer meets the nodes')
    // the nodes take on jobs from staked, registered creators who may fund rounds (the default with a chain)
    await waitFor(
      () => observer.chain?.status().registeredPeerId === observer.node.peerId.toString(),
      120_000,
      'the observer registered its peer id',
    )
    await waitFor(() => nodes.every((n) => n.node.authenticatedPeers().length >= nodes.length - 1), 120_000, 'mesh')
    await new Promise((r) => setTimeout(r, 1500))
    const events: { settled: ChainServiceEvents['round:settled'][]; claimed: ChainServiceEvents['reward:claimed'][] } =
      { settled: [], claimed: [] }
    const svc = observer.chain
    svc?.on('round:settled', (e) => events.settled.push(e))
    svc?.on('reward:claimed', (e) => events.claimed.push(e))
    const committees: string[][] = []
    observer.participant.addEventListener('round:started', (e) => committees.push(e.detail.committee))

    const weak = nodes[3] as RunningNode
    const weakAddress = account(4).address
    const before = await chain.publicClient().readContract({
      address: addresses.token,
      abi: (await import('@vain/chain')).vainTokenAbi,
      functionName: 'balanceOf',
      args: [weakAddress],
    })
    const ids = nodes.map((n) => n.node.peerId.toString())
    const arch = mlp(784, [16], 10)
    const spec: JobSpecInput = {
      name: 'chain',
      architecture: arch,
      initialModel: await observer.models.put(encodeModel(createModel(arch, { seed: 3 }))),
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8' },
      rounds: 2,
      // members close as soon as the four listed trainers are in; the deadline only bounds a busy machine
      roundDeadlineMs: 60_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 4 * 1024 * 1024,
      participants: { aggregators: ids, trainers: ids },
    }
    const { jobId } = await observer.participant.submitJob(spec)
    const done = await observer.participant.waitForJob(jobId)
    expect(done?.finished).toBe(true)
    // the weak node trains (tier 2) but never sits on a committee (tier 3)
    expect(committees.length).toBeGreaterThanOrEqual(2)
    for (const c of committees) expect(c).not.toContain(weak.node.peerId.toString())

    await waitFor(
      () => events.settled.length >= 2 && events.claimed.filter((c) => c.account === weakAddress).length >= 2,
      180_000,
      'two rounds settled and the weak trainer paid for both',
    )
    const vainRead = connectVain({ rpcUrl: chain.rpcUrl, addresses })
    for (const s of events.settled) {
      const r = await vainRead.rounds.roundOf(s.roundId)
      expect(r.status).toBe('settled')
      expect(r.totalReward).toBeGreaterThan(0n)
      expect(r.totalReward).toBeLessThanOrEqual(parseEther('30')) // pro rata of samples, rounded down
      expect(s.signers).toBeGreaterThanOrEqual(2)
      expect(await vainRead.rounds.isClaimed(s.roundId, weakAddress)).toBe(true)
    }
    const after = await vainRead.token.balanceOf(weakAddress)
    const paid = events.claimed.filter((c) => c.account === weakAddress).reduce((a, c) => a + c.amount, 0n)
    expect(paid).toBeGreaterThan(0n)
    expect(after - before).toBe(paid)
    expect(await vainRead.reputation.reputationOf(weakAddress)).toBe(20n) // 10 per accepted contribution
    expect(weak.chain?.status().claimed.rounds).toBe(2)
    settledRounds.push(...events.settled)
  }, 600_000)

  it('a job whose creator may not fund rounds (no OPENER role) is refused by every node, saying why', async () => {
    const weak = nodes[3] as RunningNode
    const refusals = nodes.slice(0, 3).map(
      (n) =>
        new Promise<{ reason: string; errorName: string | undefined }>((resolve) => {
          const h = (e: CustomEvent<{ kind: string; reason: string; errorName?: string }>) => {
            if (e.detail.kind !== 'job') return
            n.participant.removeEventListener('rejected', h as never)
            resolve({ reason: e.detail.reason, errorName: e.detail.errorName })
          }
          n.participant.addEventListener('rejected', h as never)
        }),
    )
    const arch = mlp(784, [8], 10)
    const { jobId } = await weak.participant.submitJob({
      name: 'unfunded',
      architecture: arch,
      initialModel: await weak.models.put(encodeModel(createModel(arch, { seed: 4 }))),
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8' },
      rounds: 1,
      roundDeadlineMs: 5_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 4 * 1024 * 1024,
    })
    for (const r of await Promise.all(refusals)) {
      expect(r.errorName).toBe('JobCreatorRefusedError')
      expect(r.reason).toMatch(/may not open rounds on chain \(no OPENER role\): its rounds could not be funded/)
    }
    for (const n of nodes.slice(0, 3)) expect(n.participant.jobIds()).not.toContain(jobId)
    await weak.participant.cancelJob(jobId)
  }, 60_000)

  it('a committee member who signed another result than the settled one is slashed with that signature', async () => {
    const settled = settledRounds[0] as ChainServiceEvents['round:settled']
    const vainRead = connectVain({ rpcUrl: chain.rpcUrl, addresses })
    const info = await vainRead.rounds.roundOf(settled.roundId)
    const opened = (await vainRead.contracts.roundManager.getEvents.RoundOpened({}, { fromBlock: 0n })).find(
      (e) => e.args.roundId === settled.roundId,
    )
    const committee = (opened?.args.committee ?? []) as Address[]
    // a member of that committee signs a different model for the settled round and gossips it
    const index = [1, 2, 3].find((i) => committee.includes(account(i).address)) as number
    const member = account(index)
    const node = nodes[index - 1] as RunningNode
    const slashed: ChainServiceEvents['dissenter:slashed'][] = []
    observer.chain?.on('dissenter:slashed', (e) => slashed.push(e))
    const stakeBefore = await vainRead.staking.stakeOf(member.address)
    const result = {
      roundId: settled.roundId,
      modelHash: `0x${'ab'.repeat(32)}` as const,
      rewardsRoot: info.rewardsRoot,
      totalReward: info.totalReward,
      contributions: settled.contributions,
    }
    const signature = await privateKeyToAccount(member.privateKey).signTypedData(
      settlementResultTypedData(result, { chainId: chain.chain.id, roundManager: addresses.roundManager }),
    )
    await node.node.publish(SETTLE_TOPIC, {
      v: 1,
      jobId: '0'.repeat(64),
      round: 0,
      attempt: 0,
      result: { ...result, roundId: String(result.roundId), totalReward: String(result.totalReward) },
      signer: member.address,
      signature,
      sentAt: Date.now(),
    })
    await waitFor(() => slashed.length > 0, 20_000, 'the dissenter slashed')
    expect(slashed[0]?.member).toBe(member.address)
    expect(await vainRead.staking.stakeOf(member.address)).toBe(stakeBefore - parseEther('500'))
  }, 30_000)

  it('governance and unstaking from the CLI: propose, vote with stake × tier as weight, unstake with a cooldown', async () => {
    const as = (i: number) => ['--config', chainFile, '--account', String(i), '--json']
    const proposed = await vain([
      'propose',
      '-m',
      'tier 3 from 5000 VAIN',
      '--set-min-stake',
      '100,1000,5000',
      ...as(2),
    ])
    expect(proposed.code, proposed.stderr).toBe(0)
    const { proposalId } = JSON.parse(proposed.stdout)
    const voted = await vain(['vote', proposalId, 'for', ...as(3)])
    expect(voted.code, voted.stderr).toBe(0)
    // 10,000 VAIN staked at tier 3 when the proposal was made: weight 30,000 (VAIN × tier), the quorum
    expect(JSON.parse(voted.stdout)).toMatchObject({
      ok: true,
      support: 'for',
      weight: '30000',
      state: 'active',
      forVotes: '30000',
      quorum: '30000',
    })
    const unstaked = await vain(['unstake', '100', '--yes', ...as(3)])
    expect(unstaked.code, unstaked.stderr).toBe(0)
    expect(JSON.parse(unstaked.stdout)).toMatchObject({
      ok: true,
      action: 'unstake',
      staked: '9900',
      pending: '100',
      tier: 2,
    })
    const early = await vain(['unstake', '--withdraw', ...as(3)])
    expect(early.code).toBe(1)
    expect(JSON.parse(early.stdout)).toMatchObject({ ok: false, error: 'CooldownActiveError' })
    expect(JSON.parse(early.stdout).message).toMatch(/locked until .* \(cooldown not over\)/)
    // the vote keeps the weight of the snapshot: unstaking after the proposal changes nothing on it
    const shown = await vain(['proposal', proposalId, ...as(3)])
    expect(shown.code, shown.stderr).toBe(0)
    expect(JSON.parse(shown.stdout)).toMatchObject({ forVotes: '30000', quorum: '30000' })
    expect(JSON.parse(proposed.stdout).snapshot).toMatch(/^\d{4}-\d\d-\d\dT/)
  }, 60_000)

  it('a chain that is down: the node keeps running, retries with backoff and says so, then recovers', async () => {
    const port = await freePort()
    const rpcUrl = `http://127.0.0.1:${port}`
    const c = capture()
    const node = await startVainNode(
      {
        ...config(9, 5, [], 4),
        data: undefined,
        chain: ChainConfigSchema.parse({
          rpcUrl,
          account: 5,
          addresses: 'deploy',
          pollMs: 200,
          retry: { attempts: 2, minDelayMs: 50, maxDelayMs: 200 },
        }),
      },
      c.log,
    )
    try {
      expect(node.node.multiaddrs.length).toBeGreaterThan(0) // the p2p side is up regardless
      await waitFor(
        () => c.lines.some((l) => /unreachable \(attempt \d+\): retrying in \d+ ms/.test(l)),
        10_000,
        'retry reported',
      )
      // the CLI retries, reports each retry, then fails with a clear error and exit code 1
      const cli = await vain([
        'tier',
        '--rpc',
        rpcUrl,
        '--addresses',
        chainFile,
        '--retries',
        '2',
        '--json',
        account(5).address,
      ])
      expect(cli.code).toBe(1)
      expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, error: 'ChainUnavailableError', chainDown: true })
      expect(cli.stderr).toMatch(/unreachable \(attempt 1\/2\): retrying/)
      // the chain comes up: the node deploys the suite, then reports why it cannot register (no stake)
      const late = await startLocalChain({ port, accounts: 8 })
      try {
        await waitFor(() => node.chain?.connection !== undefined, 20_000, 'connected after the chain came up')
        await waitFor(
          () =>
            c.lines.some((l) =>
              /not registered on chain: node 0x[0-9a-fA-F]{40} has 0 VAIN staked but needs at least 100 VAIN/.test(l),
            ),
          20_000,
          'registration refusal reported',
        )
      } finally {
        await late.stop()
      }
      // down again: the watcher reports it; the node still answers and stops cleanly
      await waitFor(
        () => c.lines.some((l) => /chain unreachable: settlement paused/.test(l)),
        20_000,
        'outage reported',
      )
      expect(node.chain?.status().up).toBe(false)
      expect(node.node.peerId.toString()).toMatch(/^16Uiu2HA/) // a node with a chain has a secp256k1 identity
    } finally {
      await node.stop()
    }
  }, 60_000)
})
