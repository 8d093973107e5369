/**
 * What the live feed is given by the running node: its discrete events (peers connecting,
 * authenticating, leaving; rounds and updates; chain transactions; resource alerts) in a
 * {@link FeedEventLog}, the per-round figures of each job (accuracy and loss of the node's own
 * evaluation, bytes up and down) for `GET /api/metrics/training`, and `/vain/feed/1.0.0` served to
 * authenticated peers (see `@vain/metrics/vain-net`).
 * @module
 */
import type { Participant } from '@vain/fl'
import { FeedEventLog, type FeedServer, serveFeed } from '@vain/metrics/vain-net'
import type { VainNode } from '@vain/net'
import { feedSnapshot, type SnapshotParts } from './feed-snapshots.js'

/** A round's figures the node measured itself. */
export interface RoundFigures {
  accuracy?: number
  loss?: number
  bytesUp?: number
  bytesDown?: number
}

/** The feed's part of the API ({@link ApiParts}'s `feed`). */
export interface FeedPart {
  /** The node's discrete events. */
  log: FeedEventLog
  /** The figures of a job's rounds, by round. */
  rounds(jobId: string): ReadonlyMap<number, RoundFigures>
  /** Whether WebSocket clients may subscribe to other peers' feeds through this node. Default true. */
  routing?: boolean
}

/** Jobs whose round figures are kept, and rounds per job. */
const MAX_JOBS = 100
const MAX_ROUNDS = 1000

/** Something with typed-ish events (the node's parts are `EventTarget`s). */
type Events = {
  addEventListener(t: string, l: (e: never) => void): void
  removeEventListener(t: string, l: (e: never) => void): void
}

/** The node's feed sources, running. */
export interface NodeFeed extends FeedPart {
  /** Record a round model's evaluation on this node's data (and tell the feed). */
  evaluated(jobId: string, round: number, figures: { accuracy: number; loss: number }): void
  /** Serve `/vain/feed/1.0.0` to authenticated peers (snapshots read from `parts`). */
  serve(parts: SnapshotParts): Promise<FeedServer>
  stop(): Promise<void>
}

/** Options of {@link createNodeFeed}. */
export interface NodeFeedInit {
  node: VainNode
  participant: Participant
  /**
   * Sources of alerts: `@vain/resources`' anomaly detector (`anomaly`, `anomaly:cleared`) and
   * scheduler (`pressure`, `relief`), `@vain/metrics`' alert engine (`firing`, `resolved`).
   */
  alerts?: object[]
  /** Chain settlement events, when the node has a chain: `on(type, listener)` returns its removal. */
  chain?: { on(type: never, listener: (detail: never) => void): () => void }
  /** The chain event types to follow. Default {@link CHAIN_FEED_EVENTS}. */
  chainEvents?: readonly string[]
}

/** The chain settlement events the `chain` channel carries. */
export const CHAIN_FEED_EVENTS = [
  'chain:down',
  'chain:up',
  'round:opened',
  'vote:signed',
  'round:settled',
  'round:refunded',
  'reward:claimed',
  'dissenter:slashed',
  'job:unfunded',
] as const

/** Follow the node's parts into a feed. */
export function createNodeFeed(init: NodeFeedInit): NodeFeed {
  const log = new FeedEventLog()
  const figures = new Map<string, Map<number, RoundFigures>>()
  const offs: Array<() => void> = []
  const figuresOf = (jobId: string, round: number): RoundFigures => {
    let job = figures.get(jobId)
    if (job === undefined) {
      job = new Map()
      figures.set(jobId, job)
      if (figures.size > MAX_JOBS) figures.delete(figures.keys().next().value as string)
    }
    let f = job.get(round)
    if (f === undefined) {
      f = {}
      job.set(round, f)
      if (job.size > MAX_ROUNDS) job.delete(job.keys().next().value as number)
    }
    return f
  }
  const listen = (target: Events, type: string, fn: (detail: Record<string, unknown>) => void) => {
    const l = (e: CustomEvent<Record<string, unknown>>) => fn(e.detail)
    target.addEventListener(type, l as (e: never) => void)
    offs.push(() => target.removeEventListener(type, l as (e: never) => void))
  }
  const { node, participant } = init
  // peers: discovery (connect, disconnect) and authentication
  const lp = node.libp2p as unknown as Events
  listen(lp, 'peer:connect', (d) => log.append('peers', { event: { kind: 'connected', peerId: String(d) } }))
  listen(lp, 'peer:disconnect', (d) => log.append('peers', { event: { kind: 'disconnected', peerId: String(d) } }))
  const ne = node as unknown as Events
  listen(ne, 'peer:authenticated', (d) =>
    log.append('peers', {
      event: {
        kind: 'authenticated',
        peerId: String(d.peerId),
        roles: [...(((d.descriptor as { roles?: string[] } | undefined)?.roles ?? []) as string[])],
      },
    }),
  )
  listen(ne, 'peer:rejected', (d) =>
    log.append('peers', { event: { kind: 'rejected', peerId: String(d.peerId), reason: String(d.reason) } }),
  )
  listen(ne, 'peer:banned', (d) =>
    log.append('peers', { event: { kind: 'banned', peerId: String(d.peerId), until: d.until } }),
  )
  // training
  const pe = participant as unknown as Events
  listen(pe, 'job:joined', (d) =>
    log.append('training', {
      event: { kind: 'job:joined', jobId: d.jobId, name: (d.spec as { name?: string }).name, creator: d.creator },
    }),
  )
  listen(pe, 'round:started', (d) =>
    log.append('training', {
      event: { kind: 'round:started', jobId: d.jobId, round: d.round, attempt: d.attempt, committee: d.committee },
    }),
  )
  listen(pe, 'update:sent', (d) => {
    const f = figuresOf(d.jobId as string, d.round as number)
    f.bytesUp = (f.bytesUp ?? 0) + (d.bytes as number)
    log.append('training', {
      event: {
        kind: 'update:sent',
        jobId: d.jobId,
        round: d.round,
        bytes: d.bytes,
        to: (d.to as string[]).length,
        failed: (d.failed as string[]).length,
      },
    })
  })
  listen(pe, 'update:accepted', (d) => {
    const f = figuresOf(d.jobId as string, d.round as number)
    f.bytesDown = (f.bytesDown ?? 0) + (d.bytes as number)
    log.append('training', {
      event: { kind: 'update:accepted', jobId: d.jobId, round: d.round, trainer: d.trainer, bytes: d.bytes },
    })
  })
  listen(pe, 'rejected', (d) => {
    if (d.kind !== 'update') return
    log.append('training', {
      event: {
        kind: 'update:refused',
        jobId: d.jobId,
        round: d.round,
        from: d.from,
        error: d.errorName,
        reason: String(d.reason).slice(0, 500),
      },
    })
  })
  listen(pe, 'round:completed', (d) =>
    log.append('training', {
      event: {
        kind: 'round:completed',
        jobId: d.jobId,
        round: d.round,
        model: d.model,
        contributions: (d.contributions as unknown[]).length,
      },
    }),
  )
  listen(pe, 'round:failed', (d) =>
    log.append('training', {
      event: { kind: 'round:failed', jobId: d.jobId, round: d.round, attempt: d.attempt, reason: d.reason },
    }),
  )
  listen(pe, 'job:finished', (d) =>
    log.append('training', { event: { kind: 'job:finished', jobId: d.jobId, model: d.model, rounds: d.rounds } }),
  )
  listen(pe, 'job:ended', (d) =>
    log.append('training', { event: { kind: 'job:ended', jobId: d.jobId, ended: d.ended, reason: d.reason } }),
  )
  // alerts: resource anomalies (firing, resolved), host pressure
  for (const t of init.alerts ?? []) {
    const target = t as Events
    listen(target, 'anomaly', (d) =>
      log.append('alerts', { alert: { status: 'firing', source: 'resources', name: `anomaly:${d.metric}`, ...d } }),
    )
    listen(target, 'anomaly:cleared', (d) =>
      log.append('alerts', { alert: { status: 'resolved', source: 'resources', name: `anomaly:${d.metric}`, ...d } }),
    )
    // @vain/metrics alert rules (an AlertEngine): its notices as they are
    listen(target, 'firing', (d) => log.append('alerts', { alert: { source: 'metrics', status: 'firing', ...d } }))
    listen(target, 'resolved', (d) => log.append('alerts', { alert: { source: 'metrics', status: 'resolved', ...d } }))
    listen(target, 'pressure', (d) =>
      log.append('alerts', { alert: { status: 'firing', source: 'resources', name: 'host-pressure', ...d } }),
    )
    listen(target, 'relief', (d) =>
      log.append('alerts', { alert: { status: 'resolved', source: 'resources', name: 'host-pressure', ...d } }),
    )
  }
  // chain transactions and the chain's reachability
  if (init.chain !== undefined) {
    for (const type of init.chainEvents ?? CHAIN_FEED_EVENTS) {
      offs.push(
        init.chain.on(
          type as never,
          ((detail: Record<string, unknown>) =>
            log.append('chain', {
              event: { kind: type, ...(type === 'chain:down' ? { error: String(detail.error) } : detail) },
            })) as never,
        ),
      )
    }
  }
  let server: FeedServer | undefined
  return {
    log,
    rounds: (jobId) => figures.get(jobId) ?? new Map(),
    evaluated(jobId, round, r) {
      const f = figuresOf(jobId, round)
      f.accuracy = r.accuracy
      f.loss = r.loss
      log.append('training', { event: { kind: 'round:evaluated', jobId, round, accuracy: r.accuracy, loss: r.loss } })
    },
    async serve(parts) {
      server = await serveFeed(node, { log, snapshot: (channel) => feedSnapshot(parts, channel) })
      return server
    },
    async stop() {
      for (const off of offs.splice(0)) off()
      await server?.stop().catch(() => {})
    },
  }
}
