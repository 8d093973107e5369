/**
 * Anonymous governance votes through the CLI, against `vain chain up` in its own process: two nodes
 * join their tier's group (`vain vote join`), a third proposes, one votes anonymously through a
 * relayer (a real Groth16 proof), and the tally grows by the tier's anonymous weight; a second vote
 * with the same identity (its nullifier), a voter outside every group and an unknown proposal are
 * refused with exit code 2 and a clear message.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectVain, deployVain, startLocalChain, type VainAddresses } from '@vain/chain'
import { type Hex, parseEther } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runAnonymousVote } from '../src/anonymous-vote.js'
import { DEV_DEPLOY_PARAMS, devAccountKey } from '../src/chain/connect.js'
import { ChainFileSchema } from '../src/config.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const NODE_ARGS = ['--conditions=vain-source', '--import', 'tsx', CLI]
const address = (i: number) =>
  mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: i }).address

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

describe('vain vote join / vain vote ID for --anonymous (a chain in its own process)', () => {
  let root: string
  let chainFile: string
  let chainProc: ChildProcess | undefined
  let rpcUrl: string
  let addresses: VainAddresses
  const cli = (...args: string[]) => run([...args, '--chain', chainFile])

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-anon-vote-'))
    chainFile = join(root, 'chain.json')
    chainProc = spawn(
      process.execPath,
      [...NODE_ARGS, 'chain', 'up', '--port', '0', '--out', chainFile, '--fund', '5'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stderr = ''
    chainProc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let stdout = ''
      chainProc!.stdout?.setEncoding('utf8').on('data', (d: string) => {
        stdout += d
        const line = stdout.split('\n').find((l) => l.startsWith('{"ready":true'))
        if (line !== undefined) resolve(JSON.parse(line))
      })
      chainProc!.once('close', (code) => reject(new Error(`vain chain up exited ${code}:\n${stderr}`)))
    })
    rpcUrl = ready.rpcUrl as string
    const file = ChainFileSchema.parse(JSON.parse(await readFile(chainFile, 'utf8')))
    // the chain file lists the anonymous-voting contracts, and they are the ones Governance uses
    expect(file.chain.addresses.tierGroups).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(file.chain.addresses.voteVerifier).toMatch(/^0x[0-9a-fA-F]{40}$/)
    addresses = file.chain.addresses as VainAddresses
    const read = connectVain({ rpcUrl, addresses })
    expect((await read.contracts.governance.read.tierGroups()).toLowerCase()).toBe(
      file.chain.addresses.tierGroups!.toLowerCase(),
    )
    // accounts 1 and 2 at tier 3 (they join), account 3 at tier 2 (it proposes; it never joins)
    for (const [i, amount] of [
      [1, '10000'],
      [2, '10000'],
      [3, '1000'],
    ] as const) {
      const node = connectVain({ rpcUrl, addresses, privateKey: devAccountKey(i) })
      await node.staking.stake(parseEther(amount))
    }
  }, 180_000)

  afterAll(async () => {
    if (chainProc !== undefined && chainProc.exitCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => chainProc?.kill('SIGKILL'), 30_000)
        chainProc!.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        chainProc!.kill('SIGINT')
      })
    }
    if (root !== undefined) await rm(root, { recursive: true, force: true })
  }, 60_000)

  it('two nodes join their tier group; one votes anonymously through a relayer; replays and outsiders are refused', async () => {
    // join: accounts 1 and 2 (in parallel: two senders); again: already a member, nothing sent
    const joins = await Promise.all([1, 2].map((i) => cli('vote', 'join', '--account', String(i), '--json')))
    for (const [k, j] of joins.entries()) {
      expect(j.code, j.stderr).toBe(0)
      expect(JSON.parse(j.stdout)).toMatchObject({
        ok: true,
        action: 'vote-join',
        address: address(k + 1),
        tier: 3,
        joined: true,
      })
    }
    const again = await cli('vote', 'join', '--account', '1', '--json')
    expect(again.code, again.stderr).toBe(0)
    // the identity is derived from the key: the same commitment
    expect(JSON.parse(again.stdout)).toMatchObject({
      joined: false,
      commitment: JSON.parse(joins[0]!.stdout).commitment,
    })

    const proposed = await cli(
      'propose',
      '-m',
      'raise the tier-3 stake',
      '--set-min-stake',
      '100,1000,12000',
      '--account',
      '3',
      '--json',
    )
    expect(proposed.code, proposed.stderr).toBe(0)
    const id = JSON.parse(proposed.stdout).proposalId as string

    const read = connectVain({ rpcUrl, addresses })
    const governance = read.contracts.governance
    const weight = await governance.read.anonymousWeight([3])
    expect(weight).toBe(parseEther('30000'))
    expect((await read.governance.proposalOf(BigInt(id))).forVotes).toBe(0n)

    // account 1 votes; account 4 relays (sends and pays for) it
    const voted = await cli('vote', id, 'for', '--anonymous', '--account', '1', '--relayer-account', '4', '--json')
    expect(voted.code, voted.stderr + voted.stdout).toBe(0)
    const v = JSON.parse(voted.stdout)
    expect(v).toMatchObject({
      ok: true,
      anonymous: true,
      support: 'for',
      tier: 3,
      weight: '30000',
      relayer: address(4),
    })
    expect((await read.governance.proposalOf(BigInt(id))).forVotes).toBe(weight)
    // the voter's address is not the sender: the relayer is
    const tx = await read.publicClient.getTransaction({ hash: v.tx })
    expect(tx.from.toLowerCase()).toBe(address(4).toLowerCase())
    expect(Number(v.gasUsed)).toBeGreaterThan(0)

    const [replay, outsider, unknown, noRelayer] = await Promise.all([
      // the same identity again (another relayer, another vote): its nullifier is spent
      cli('vote', id, 'against', '--anonymous', '--account', '1', '--relayer-account', '5'),
      // account 3 is staked but never joined a group
      cli('vote', id, 'against', '--anonymous', '--account', '3', '--relayer-account', '5', '--json'),
      cli('vote', '99', 'for', '--anonymous', '--account', '2', '--relayer-account', '5'),
      cli('vote', id, 'for', '--anonymous', '--account', '2'),
    ])
    expect(replay.code, replay.stderr).toBe(2)
    expect(replay.stderr).toContain(`already voted anonymously on proposal ${id}`)
    expect(replay.stderr).toContain('NullifierAlreadyUsedError')
    expect(outsider.code, outsider.stderr).toBe(2)
    expect(JSON.parse(outsider.stdout)).toMatchObject({ ok: false, error: 'NotInTierGroupError' })
    expect(JSON.parse(outsider.stdout).message).toContain('vain vote join')
    expect(unknown.code, unknown.stderr).toBe(2)
    expect(unknown.stderr).toContain('proposal 99 does not exist')
    expect(noRelayer.code, noRelayer.stderr).toBe(2)
    expect(noRelayer.stderr).toContain('--relayer-account N or --relayer-key-file FILE')
    // nothing refused changed the tally
    const p = await read.governance.proposalOf(BigInt(id))
    expect([p.forVotes, p.againstVotes, p.abstainVotes]).toEqual([weight, 0n, 0n])
  }, 600_000)
})

describe('vain chain deploy (production parameters)', () => {
  it('deploys TierGroups and VoteVerifier too and lists them in the chain file', async () => {
    const chain = await startLocalChain({ accounts: 2 })
    const root = await mkdtemp(join(tmpdir(), 'vain-anon-deploy-'))
    try {
      const out = join(root, 'prod.json')
      const r = await run(['chain', 'deploy', '--rpc', chain.rpcUrl, '--out', out, '--genesis', address(1)], {
        VAIN_PRIVATE_KEY: (chain.accounts[0] as { privateKey: Hex }).privateKey,
      })
      expect(r.code, r.stderr).toBe(0)
      const file = ChainFileSchema.parse(JSON.parse(await readFile(out, 'utf8')))
      expect(file.profile).toBe('production')
      const read = connectVain({ rpcUrl: chain.rpcUrl, addresses: file.chain.addresses as VainAddresses })
      expect((await read.contracts.governance.read.tierGroups()).toLowerCase()).toBe(
        file.chain.addresses.tierGroups?.toLowerCase(),
      )
      expect((await read.contracts.governance.read.voteVerifier()).toLowerCase()).toBe(
        file.chain.addresses.voteVerifier?.toLowerCase(),
      )
    } finally {
      await chain.stop()
      await rm(root, { recursive: true, force: true })
    }
  }, 300_000)
})

describe("the demo's anonymous vote (vain demo --proofs, after training)", () => {
  it('nodes join, one proposes, three vote through the relayer; the tally read back counts them', async () => {
    const chain = await startLocalChain({ accounts: 4 })
    try {
      const { addresses } = await deployVain(chain.walletClient(0), DEV_DEPLOY_PARAMS)
      const key = (i: number) => (chain.accounts[i] as { privateKey: Hex }).privateKey
      const admin = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: key(0) })
      for (const i of [1, 2, 3]) {
        await admin.token.transfer(address(i), parseEther('20000'))
        await connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: key(i) }).staking.stake(parseEther('10000'))
      }
      const lines: string[] = []
      const summary = await runAnonymousVote({
        relayer: admin,
        rpcUrl: chain.rpcUrl,
        nodeKeys: [key(1), key(2), key(3)],
        votes: ['for', 'for', 'against'],
        out: (l) => lines.push(l),
      })
      expect(summary).toMatchObject({
        proposalId: '1',
        votes: { for: 2, against: 1, abstain: 0 },
        weights: { for: '60000', against: '30000', abstain: '0' },
        relayer: address(0),
      })
      expect(summary.meanGas).toBeGreaterThan(0)
      expect(lines.at(-1)).toMatch(
        /^anonymous vote: proposal 1 — for 2 \(weight 60000\), against 1 \(weight 30000\); voters hidden behind nullifiers/,
      )
    } finally {
      await chain.stop()
    }
  }, 600_000)
})
