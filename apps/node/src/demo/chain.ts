import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connectVain, deployVain, type LocalChain, startLocalChain, type VainClient } from '@vain/chain'
import { type Address, parseEther } from 'viem'
import { DEV_DEPLOY_PARAMS, formatVain } from '../chain/connect.js'
import type { DemoChainSummary } from '../demo.js'
import type { startVainNode } from '../runtime.js'

/** The job creator's stake: tier 1, what the default deployment asks of creators. */
export const CREATOR_STAKE = parseEther('100')
/** Each node's stake: enough for tier 3 (aggregators) with the development parameters. */
export const NODE_STAKE = parseEther('10000')
export const NODE_FUNDS = parseEther('12000')

export interface ChainSetup {
  chain: LocalChain
  admin: VainClient
  /** Path of node `i`'s config file (its chain section). */
  configFor(i: number): string
}

/** Local chain, suite, and every node funded and staked for tier 3; writes each node's chain config. */
export async function setUpChain(
  nodes: number,
  root: string,
  out: (line: string) => void,
  keep: (chain: LocalChain) => void,
): Promise<ChainSetup> {
  const t0 = performance.now()
  const chain = await startLocalChain({ accounts: nodes + 1 })
  keep(chain)
  const { addresses } = await deployVain(chain.walletClient(0), DEV_DEPLOY_PARAMS)
  const account = (i: number) => chain.accounts[i] as { address: Address; privateKey: `0x${string}` }
  const admin = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(0).privateKey })
  out(
    `chain ${chain.rpcUrl.replace('http://', '')} (Hardhat, in this process) · vAIn suite deployed in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  // the deployer holds the supply: fund the nodes (one sender: in order), then each stakes (in parallel)
  for (let i = 1; i <= nodes; i++) await admin.token.transfer(account(i).address, NODE_FUNDS)
  // the deployer creates the jobs: the network asks job creators for a stake (tier 1)
  await admin.staking.stake(CREATOR_STAKE)
  const before = await admin.standing(account(1).address)
  const tiers = await Promise.all(
    Array.from({ length: nodes }, async (_, k) => {
      const node = connectVain({ rpcUrl: chain.rpcUrl, addresses, privateKey: account(k + 1).privateKey })
      await node.staking.stake(NODE_STAKE)
      return (await node.standing()).tier
    }),
  )
  out(
    `funded ${nodes} nodes with ${formatVain(NODE_FUNDS)}, each staked ${formatVain(NODE_STAKE)}: tier ${before.tier} → ${[...new Set(tiers)].join('/')} (aggregators need tier 3)`,
  )
  const configFor = (i: number): string => join(root, `chain-n${i}.json`)
  await Promise.all(
    Array.from({ length: nodes }, (_, i) =>
      writeFile(
        configFor(i),
        JSON.stringify({ chain: { rpcUrl: chain.rpcUrl, account: i + 1, addresses, pollMs: 250 } }, null, 2),
      ),
    ),
  )
  return { chain, admin, configFor }
}

/** Waits until every peer id is bound to an address in the NodeRegistry (or `ms` passed). */
export async function waitRegistered(
  admin: VainClient,
  ids: readonly string[],
  ms: number,
): Promise<Map<string, Address>> {
  const found = new Map<string, Address>()
  const deadline = Date.now() + ms
  while (found.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (found.has(id)) continue
      const a = await admin.registry.nodeOf(id)
      if (a !== undefined) found.set(id, a)
    }
    if (found.size < ids.length) await new Promise((r) => setTimeout(r, 250))
  }
  return found
}

export interface RoundPayout {
  round: number | undefined
  signers: number
  /** Contributions of the settled result (Infinity until the settlement is seen). */
  contributions: number
  /** What the settled result pays out in all. */
  totalReward: bigint
  paid: bigint
  accounts: Set<string>
  printed: boolean
}

/** Follows settlements and claims from the observer's chain view; prints a line per round once paid. */
export function followRewards(obs: Awaited<ReturnType<typeof startVainNode>>, out: (line: string) => void) {
  const service = obs.chain
  if (service === undefined) throw new Error('the observer has no chain')
  const rounds = new Map<bigint, RoundPayout>()
  const committees = new Map<bigint, number>()
  const earned = new Map<string, bigint>()
  let muted = false
  const entry = (roundId: bigint, round: number | undefined): RoundPayout => {
    let e = rounds.get(roundId)
    if (e === undefined) {
      e = {
        round,
        signers: 0,
        contributions: Number.POSITIVE_INFINITY,
        totalReward: 0n,
        paid: 0n,
        accounts: new Set(),
        printed: false,
      }
      rounds.set(roundId, e)
    }
    e.round ??= round
    return e
  }
  const check = (roundId: bigint): void => {
    const r = rounds.get(roundId)
    if (r === undefined || r.printed || r.accounts.size < r.contributions) return
    r.printed = true
    if (muted) return
    const round = r.round === undefined ? '?' : String(r.round + 1).padStart(2)
    out(
      `         ⛓ round ${round} settled on chain (#${roundId}, ${r.signers}/${committees.get(roundId) ?? '?'} committee signatures) · ${formatVain(r.paid)} paid to ${r.accounts.size} nodes`,
    )
  }
  /** Chain rounds this node (the job's creator) opened: pool, deadline, round. */
  const opened = new Map<bigint, { pool: bigint; deadline: bigint; round: number | undefined }>()
  const settledIds = new Set<bigint>()
  const refunded = new Map<bigint, bigint>()
  service.on('round:opened', (r) => {
    committees.set(r.roundId, r.committee.length)
    if (r.byMe) opened.set(r.roundId, { pool: r.rewardPool, deadline: r.deadline, round: r.round })
  })
  service.on('round:settled', (r) => {
    settledIds.add(r.roundId)
    const e = entry(r.roundId, r.round)
    e.signers = r.signers
    e.contributions = r.contributions
    e.totalReward = r.totalReward
    check(r.roundId)
  })
  service.on('round:refunded', (r) => {
    if (!opened.has(r.roundId)) return
    refunded.set(r.roundId, r.refund)
    if (muted) return
    const o = opened.get(r.roundId)
    const round = o?.round === undefined ? '?' : String(o.round + 1).padStart(2)
    out(
      `         ⛓ round ${round}: chain round #${r.roundId} refunded (an attempt not settled by its deadline) · ${formatVain(r.refund)} back to the job's creator`,
    )
  })
  service.on('reward:claimed', (c) => {
    const e = entry(c.roundId, c.round)
    e.paid += c.amount
    e.accounts.add(c.account)
    earned.set(c.account, (earned.get(c.account) ?? 0n) + c.amount)
    check(c.roundId)
  })
  return {
    /**
     * Waits until every chain round this node opened is settled with every reward claimed, or
     * refunded: `ms` at most for claims of settled rounds; for a round not settled, until 20 s
     * after its deadline (this node refunds it once the deadline has passed).
     */
    async closed(ms: number): Promise<void> {
      const end = Date.now() + ms
      let told = false
      for (;;) {
        const refundedOrPaid = (id: bigint): boolean => refunded.has(id) || rounds.get(id)?.printed === true
        const pending = [...opened.keys()].filter((id) => !refundedOrPaid(id))
        if (pending.length === 0) return
        const unsettled = pending.filter((id) => !settledIds.has(id))
        const lastDeadline = unsettled.reduce((m, id) => {
          const d = opened.get(id)?.deadline ?? 0n
          return d > m ? d : m
        }, 0n)
        const nowS = BigInt(Math.floor(Date.now() / 1000))
        const refundBy = (Number(lastDeadline) + 20) * 1000
        if (Date.now() > Math.max(end, unsettled.length > 0 ? refundBy : 0)) return
        if (unsettled.length > 0 && !told && lastDeadline > nowS && Date.now() > end && !muted) {
          told = true
          out(
            `         ⛓ ${unsettled.length === 1 ? 'a chain round' : `${unsettled.length} chain rounds`} not settled (${unsettled.map((id) => `#${id}`).join(' ')}): waiting ${lastDeadline - nowS} s for ${unsettled.length === 1 ? 'its' : 'their'} deadline, then the refund`,
          )
        }
        await new Promise((r) => setTimeout(r, 250))
      }
    },
    /** No more lines (the summary follows). */
    mute(): void {
      muted = true
    },
    async summary(
      rpcUrl: string,
      admin: VainClient,
      ids: readonly string[],
      addresses: ReadonlyMap<string, Address>,
    ): Promise<DemoChainSummary> {
      const nodes = await Promise.all(
        ids.map(async (peerId) => {
          const address = addresses.get(peerId)
          if (address === undefined) {
            return { peerId, address: '(unregistered)', staked: '0 VAIN', tier: 0, reputation: '0', earned: '0 VAIN' }
          }
          const s = await admin.standing(address)
          return {
            peerId,
            address,
            staked: formatVain(s.staked),
            tier: s.tier,
            reputation: String(s.reputation),
            earned: formatVain(earned.get(address) ?? 0n),
          }
        }),
      )
      // the chain rounds this node opened (the job's): settled or refunded, and where their pools went
      const mine = [...opened.keys()]
      const settled = mine.filter((id) => settledIds.has(id))
      const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n)
      const pool = (id: bigint): bigint => opened.get(id)?.pool ?? 0n
      const total = (id: bigint): bigint => rounds.get(id)?.totalReward ?? 0n
      const paid = (id: bigint): bigint => rounds.get(id)?.paid ?? 0n
      return {
        rpcUrl,
        openedRounds: mine.length,
        settledRounds: settled.length,
        refundedRounds: mine.filter((id) => refunded.has(id)).length,
        openRounds: mine.filter((id) => !refunded.has(id) && !settledIds.has(id)).length,
        rewardsFunded: formatVain(sum(mine.map(pool))),
        rewardsPaid: formatVain(sum(settled.map(paid))),
        rewardsRefunded: formatVain(sum([...refunded.values()]) + sum(settled.map((id) => pool(id) - total(id)))),
        rewardsUnclaimed: formatVain(sum(settled.map((id) => total(id) - paid(id)))),
        paidNodes: [...earned.values()].filter((v) => v > 0n).length,
        nodes,
      }
    },
  }
}
