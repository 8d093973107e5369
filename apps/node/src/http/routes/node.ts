/**
 * The node itself: status, peers, health, resource limits, peer exchange, stake.
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { VainNode } from '@vain/net'
import { InvalidResourceConfigError } from '@vain/resources'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import type { ApiApp, ApiParts, RouteOptions } from '../parts.js'
import {
  AnyJson,
  errors,
  PeerExchangeResultSchema,
  PeerExchangeSchema,
  PeerSchema,
  StakeSchema,
  StatusSchema,
} from '../schemas.js'

const share = z.number().gt(0).max(1)
/** `POST /api/node/resources`: the limits to change (each optional; the rest stay as they are). */
const ResourceLimitsPatchSchema = z.strictObject({
  maxCpu: share.optional(),
  maxMemory: z.union([z.number().int().min(0), z.string().min(1).max(64)]).optional(),
  onBattery: z.enum(['run', 'low-power', 'pause']).optional(),
  busyCpu: share.optional(),
  resumeCpu: share.optional(),
  minFreeMemory: z.number().min(0).max(0.9).optional(),
  idleCpu: share.optional(),
  profile: z.enum(['auto', 'normal', 'low-power']).optional(),
})

/** `GET /api/peers`'s body (before its schema's encoding): also the feed's `peers` snapshot. */
export function peersBody(node: VainNode) {
  const authenticated = node.authenticatedPeers()
  return node.connectedPeers().map((p) => ({
    peerId: p.toString(),
    authenticated: authenticated.some((a) => a.equals(p)),
    roles: [...(node.descriptor(p)?.roles ?? [])],
    session: node.sessions.get(p),
  }))
}

/** `GET /api/node/health`'s body: also the feed's `health` snapshot. */
export async function healthBody(node: VainNode) {
  const health = await node.health()
  return { ok: node.isStarted, uptimeS: Math.round(process.uptime()), ...health }
}

export function nodeRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  const { node, participant } = parts
  app.get(
    '/status',
    {
      schema: {
        hide,
        tags: ['node'],
        summary: 'Peer id, addresses, roles, jobs, health, chain',
        response: { 200: StatusSchema },
      },
    },
    async () => ({
      peerId: node.peerId.toString(),
      multiaddrs: node.multiaddrs.map(String),
      roles: [...node.config.roles],
      jobs: participant.jobIds(),
      health: await node.health(),
      ...(parts.chain !== undefined ? { chain: parts.chain() } : {}),
      ...(parts.resources?.sample !== undefined ? { resources: parts.resources.sample() } : {}),
    }),
  )
  app.get(
    '/peers',
    { schema: { hide, tags: ['node'], summary: 'Connected peers', response: { 200: z.array(PeerSchema) } } },
    async () => peersBody(node),
  )
  if (hide) return
  app.get(
    '/node/health',
    {
      schema: {
        tags: ['node'],
        summary: 'Network health: peers, RTT, success rate, traffic, circuits, rate limiting',
        response: { 200: z.looseObject({ ok: z.boolean(), uptimeS: z.number(), connectedPeers: z.number() }) },
      },
    },
    async () => await healthBody(node),
  )
  app.post(
    '/node/resources',
    {
      config: { invalidName: 'InvalidResourceLimits' },
      schema: {
        tags: ['node'],
        summary:
          'Change the resource limits (@vain/resources) while the node runs: the given fields over the limits in force (a new maxCpu brings its pause threshold along, as in the config)',
        body: ResourceLimitsPatchSchema,
        response: { 200: z.object({ limits: AnyJson }), ...errors(400, 401, 415, 501) },
      },
    },
    async (request) => {
      if (parts.resources === undefined) {
        throw new ApiError(
          501,
          'ResourcesNotAvailable',
          'this node runs without a @vain/resources scheduler: its resource limits cannot be set through the API',
        )
      }
      if (parts.resources.setLimits === undefined) {
        throw new ApiError(
          501,
          'ResourceLimitsFixed',
          `this node's @vain/resources scheduler takes its limits at start (the config's resources section) and cannot change them while it runs; in force: ${JSON.stringify(parts.resources.limits())}`,
        )
      }
      try {
        return { limits: await parts.resources.setLimits(request.body) }
      } catch (err) {
        if (err instanceof InvalidResourceConfigError) throw new ApiError(400, 'InvalidResourceLimits', err.message)
        throw err
      }
    },
  )
  app.post(
    '/node/peer-exchange',
    {
      schema: {
        tags: ['node'],
        summary: 'Exchange peer records now, with one peer or every authenticated peer',
        body: PeerExchangeSchema,
        response: { 200: PeerExchangeResultSchema, ...errors(400, 401, 404, 415, 501) },
      },
    },
    async (request) => {
      const pex = node.libp2p.services.pex
      if (pex === undefined) {
        throw new ApiError(501, 'PeerExchangeDisabled', 'peer exchange is off in this node’s config (discovery.pex)')
      }
      let targets = node.authenticatedPeers()
      if (request.body.peerId !== undefined) {
        let id: ReturnType<typeof peerIdFromString>
        try {
          id = peerIdFromString(request.body.peerId)
        } catch {
          throw new ApiError(400, 'InvalidPeerId', `${request.body.peerId} is not a peer id`)
        }
        if (!node.connectedPeers().some((p) => p.equals(id))) {
          throw new ApiError(404, 'PeerNotFound', `peer ${request.body.peerId} is not connected to this node`)
        }
        targets = [id]
      }
      const exchanges = await Promise.all(
        targets.map(async (peer) => {
          try {
            const r = await pex.exchange(peer, { signal: AbortSignal.timeout(15_000) })
            return {
              peerId: peer.toString(),
              received: r.received,
              accepted: r.accepted,
              known: r.known,
              invalid: r.invalid,
              discovered: r.discovered.map((d) => d.id.toString()),
            }
          } catch (err) {
            return { peerId: peer.toString(), error: { name: (err as Error).name, message: (err as Error).message } }
          }
        }),
      )
      return { exchanges }
    },
  )
  app.post(
    '/staking/stake',
    {
      config: { invalidName: 'InvalidStake' },
      schema: {
        tags: ['chain'],
        summary: 'Stake VAIN from the node’s chain account (registers its peer id when it has enough)',
        body: StakeSchema,
        response: { 200: AnyJson, ...errors(400, 401, 415, 501, 503) },
      },
    },
    async (request) => {
      if (parts.staking === undefined) {
        throw new ApiError(501, 'NoChain', 'this node has no chain (start it with a chain section or --chain)')
      }
      if (/^0+(\.0*)?$/.test(request.body.amount)) throw new ApiError(400, 'InvalidStake', 'the amount must be above 0')
      try {
        return await parts.staking.stake(request.body.amount)
      } catch (err) {
        if ((err as Error).name === 'ChainNotConnectedError')
          throw new ApiError(503, 'ChainNotConnected', (err as Error).message)
        throw err
      }
    },
  )
}
