/**
 * `vain status`, `vain peers` and `vain resources`: a running node's state, read through its REST API.
 * @module
 */
import type { Command } from 'commander'
import type { ResourcesSnapshot } from '../resources.js'
import { ApiClient, type ApiOptions } from './api-client.js'
import { binaryBytes, printJson, printLines, UsageError } from './common.js'
import { outputOf, withApiOptions } from './shared.js'
import { renderTable } from './table.js'

/** A peer as `GET /api/peers` lists it. */
interface PeerRow {
  peerId: string
  authenticated: boolean
  roles: string[]
  session?: {
    connections?: number
    rttMs?: number
    successRate?: number
    bytesIn?: number
    bytesOut?: number
    firstSeen?: number
  }
}

/** The peers table: full peer ids, authentication, roles; with `verbose` the session figures too. */
export function peersTable(peers: readonly PeerRow[], verbose: boolean): string[] {
  if (peers.length === 0) return ['no peers connected']
  const rows = peers.map((p) => {
    const base = [p.peerId, p.authenticated ? 'yes' : 'no', p.roles.length > 0 ? p.roles.join(',') : '-']
    if (!verbose) return base
    const s = p.session ?? {}
    return [
      ...base,
      String(s.connections ?? '-'),
      s.rttMs === undefined ? '-' : `${Math.round(s.rttMs)} ms`,
      s.successRate === undefined ? '-' : `${Math.round(100 * s.successRate)} %`,
      s.bytesIn === undefined ? '-' : binaryBytes(s.bytesIn),
      s.bytesOut === undefined ? '-' : binaryBytes(s.bytesOut),
    ]
  })
  const columns = [{ header: 'PEER ID' }, { header: 'AUTH' }, { header: 'ROLES' }]
  const more = verbose
    ? [
        { header: 'CONNS', right: true },
        { header: 'RTT', right: true },
        { header: 'OK', right: true },
        { header: 'IN', right: true },
        { header: 'OUT', right: true },
      ]
    : []
  const authed = peers.filter((p) => p.authenticated).length
  return [...renderTable([...columns, ...more], rows), '', `${peers.length} peers connected, ${authed} authenticated`]
}

/** `GET /api/status` as lines for people. */
export function statusLines(s: Record<string, unknown>): string[] {
  const health = (s.health ?? {}) as Record<string, unknown>
  const num = (v: unknown): string => (typeof v === 'number' ? String(v) : '-')
  const lines = [
    `peer id     ${String(s.peerId)}`,
    `roles       ${((s.roles as string[] | undefined) ?? []).join(', ') || '-'}`,
    `listening   ${((s.multiaddrs as string[] | undefined) ?? []).join('  ') || '-'}`,
    `peers       ${num(health.connectedPeers)} connected, ${num(health.authenticatedPeers)} authenticated${typeof health.rttMedianMs === 'number' ? `, median RTT ${Math.round(health.rttMedianMs)} ms` : ''}`,
    `traffic     ${typeof health.bytesIn === 'number' ? binaryBytes(health.bytesIn) : '-'} in, ${typeof health.bytesOut === 'number' ? binaryBytes(health.bytesOut) : '-'} out`,
    `jobs        ${((s.jobs as string[] | undefined) ?? []).length} (vain job list)`,
  ]
  const chain = s.chain as
    | {
        rpcUrl?: string
        address?: string
        up?: boolean
        standing?: { staked?: string; reputation?: string; tier?: number }
        settled?: number
        claimed?: { rounds?: number; amount?: string }
      }
    | undefined
  if (chain === undefined) lines.push("chain       none (committees from the jobs' allow-lists; nothing settled)")
  else {
    const st = chain.standing
    lines.push(
      `chain       ${chain.rpcUrl ?? '?'} (${chain.up === false ? 'unreachable' : 'up'})${chain.address !== undefined ? ` · account ${chain.address}` : ''}`,
    )
    if (st !== undefined) {
      lines.push(`standing    tier ${st.tier ?? '?'} · staked ${st.staked ?? '?'} · reputation ${st.reputation ?? '?'}`)
    }
    if (chain.settled !== undefined || chain.claimed !== undefined) {
      lines.push(
        `rewards     ${chain.settled ?? 0} rounds settled · ${chain.claimed?.amount ?? '0 VAIN'} claimed over ${chain.claimed?.rounds ?? 0} rounds`,
      )
    }
  }
  return lines
}

/** Registers `status`, `peers` and `resources`. */
export function registerNodeInfo(program: Command): void {
  withApiOptions(
    program
      .command('status')
      .description("a running node's peer id, roles, addresses, peers, jobs and chain standing")
      .addHelpText('after', '\nWith --interaction verbose: every peer too (as vain peers --interaction verbose).'),
  ).action(async (opts: ApiOptions, cmd: Command) => {
    const out = outputOf(cmd)
    const client = await ApiClient.from(opts)
    const status = (await client.json('/api/status')) as Record<string, unknown>
    if (out.json) {
      printJson(out.verbose ? { ...status, peers: await client.json('/api/peers') } : status)
      return
    }
    const lines = statusLines(status)
    if (out.verbose) lines.push('', ...peersTable((await client.json('/api/peers')) as PeerRow[], true))
    printLines(lines)
  })

  withApiOptions(
    program
      .command('peers')
      .description("a running node's connected peers, as a table (--json: as the API answers)")
      .addHelpText(
        'after',
        '\nColumns: PEER ID, AUTH (the peer proved its vAIn identity), ROLES (from its descriptor). With\n--interaction verbose: connections, round-trip time, request success rate, bytes in and out.',
      ),
  ).action(async (opts: ApiOptions, cmd: Command) => {
    const out = outputOf(cmd)
    const client = await ApiClient.from(opts)
    const peers = (await client.json('/api/peers')) as PeerRow[]
    if (out.json) printJson(peers)
    else printLines(peersTable(peers, out.verbose))
  })

  withApiOptions(
    program
      .command('resources')
      .description("a node's CPU, memory, disk, network, GPU, battery, training scheduler and anomalies (as bars)"),
  ).action(async (opts: ApiOptions, cmd: Command) => {
    const out = outputOf(cmd)
    const client = await ApiClient.from(opts)
    const status = (await client.json('/api/status')) as { resources?: ResourcesSnapshot }
    if (status.resources === undefined) throw new UsageError('this node reports no resources (an older node?)')
    if (out.json) printJson(status.resources)
    else {
      const { renderResources } = await import('../resources.js')
      process.stdout.write(renderResources(status.resources))
    }
  })
}
