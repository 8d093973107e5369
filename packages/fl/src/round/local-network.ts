/**
 * In-process implementations of the round protocol's ports: a message hub with Ed25519
 * signatures (node:crypto), per-node content-addressed model stores that fetch from each other
 * and verify hashes, and in-memory job state. For simulations, tests, and embedding several
 * participants in one process; the node app uses the libp2p/@vain/memory implementations.
 * @module
 */
import { generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto'
import type { EligibleNode } from './committee.js'
import type { SignedMessage } from './envelope.js'
import { sha256 } from './hash.js'
import type {
  EligibilityPolicy,
  JobStateStore,
  ModelStore,
  PersistedJobState,
  ReadPayload,
  RoundChannel,
  RoundTransport,
  SignalOptions,
} from './ports.js'

type UpdateHandler = (header: unknown, readPayload: ReadPayload, from: string) => Promise<void>

interface Member {
  id: string
  publicKey: KeyObject
  privateKey: KeyObject
  channels: Map<RoundChannel, Set<(message: unknown, from: string) => void>>
  updateHandlers: Set<UpdateHandler>
  latestHandlers: Set<(jobId: string) => SignedMessage[] | undefined>
  secAggHandlers: Set<(frame: Uint8Array, from: string) => Promise<Uint8Array>>
  models: Map<string, Uint8Array>
  online: boolean
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/**
 * The in-process network's model address: `b` + base32 of sha2-256 (CID-like, and unlike hex on
 * purpose, so nothing in the round can assume one address format).
 */
export function localModelAddress(bytes: Uint8Array): string {
  const digest = Buffer.from(sha256(bytes), 'hex')
  let out = 'b'
  let bits = 0
  let value = 0
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/** Thrown when a node is offline or unknown in a {@link LocalNetwork}. */
export class PeerUnreachableError extends Error {
  static override name = 'PeerUnreachableError'
  override name = 'PeerUnreachableError'
}

/** A node's handle on the local network: its transport and model store. */
export interface LocalNode {
  id: string
  transport: RoundTransport
  models: ModelStore
  /** Take the node off the network (it stops receiving; sends to it fail). */
  setOnline(online: boolean): void
}

/**
 * An in-process network.
 *
 * @example
 * ```ts
 * const net = createLocalNetwork()
 * const a = net.join('a')
 * const b = net.join('b')
 * ```
 */
export class LocalNetwork {
  private readonly members = new Map<string, Member>()
  /** Bytes of encoded updates sent, total. */
  updateBytes = 0
  updates = 0
  /** Bytes of secure-aggregation frames sent (requests and answers), total. */
  secAggBytes = 0
  /** Payload bytes receivers read (a refused header's payload is never read). */
  payloadBytesRead = 0
  /** Drop updates for which this returns false (models a link that loses them), e.g. `(from, to) => to !== 'b'`. */
  updateFilter: ((from: string, to: string) => boolean) | undefined

  /** Add a node (a fresh Ed25519 key) or get the existing one's handle again (a restart). */
  join(id: string): LocalNode {
    let m = this.members.get(id)
    if (m === undefined) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519')
      m = {
        id,
        publicKey,
        privateKey,
        channels: new Map(),
        updateHandlers: new Set(),
        latestHandlers: new Set(),
        secAggHandlers: new Set(),
        models: new Map(),
        online: true,
      }
      this.members.set(id, m)
    }
    m.online = true
    const member = m
    const deliver = async (fn: () => void): Promise<void> => {
      // asynchronous like a network; never re-entrant
      await new Promise((r) => setImmediate(r))
      fn()
    }
    const transport: RoundTransport = {
      self: id,
      sign: async (data) => new Uint8Array(sign(null, data, member.privateKey)),
      verify: async (signer, data, signature) => {
        const s = this.members.get(signer)
        if (s === undefined) return false
        try {
          return verify(null, data, s.publicKey, signature)
        } catch {
          return false
        }
      },
      publish: async (channel: RoundChannel, message: SignedMessage) => {
        for (const other of this.members.values()) {
          if (other === member || !other.online) continue
          for (const h of other.channels.get(channel) ?? []) void deliver(() => h(structuredClone(message), id))
        }
      },
      subscribe: (channel, h) => {
        let handlers = member.channels.get(channel)
        if (handlers === undefined) {
          handlers = new Set()
          member.channels.set(channel, handlers)
        }
        handlers.add(h)
        return () => handlers.delete(h)
      },
      sendUpdate: async (to: string, header: SignedMessage, payload: Uint8Array) => {
        const target = this.members.get(to)
        if (target === undefined || !target.online || !member.online)
          throw new PeerUnreachableError(`${to} is unreachable`)
        if (this.updateFilter !== undefined && !this.updateFilter(id, to)) return
        this.updateBytes += payload.byteLength
        this.updates++
        await new Promise((r) => setImmediate(r))
        const read: ReadPayload = async (maxBytes) => {
          if (payload.byteLength > maxBytes)
            throw new RangeError(`payload of ${payload.byteLength} bytes, limit ${maxBytes}`)
          this.payloadBytesRead += payload.byteLength
          return payload.slice()
        }
        for (const h of target.updateHandlers) await h(structuredClone(header), read, id)
      },
      onUpdate: (h) => {
        member.updateHandlers.add(h)
        return () => member.updateHandlers.delete(h)
      },
      requestLatest: async (jobId) => {
        await new Promise((r) => setImmediate(r))
        for (const other of this.members.values()) {
          if (other === member || !other.online) continue
          for (const h of other.latestHandlers) {
            const results = h(jobId)
            if (results !== undefined && results.length > 0) return structuredClone(results)
          }
        }
        return []
      },
      requestSecAgg: async (to, frame, options = {}) => {
        const target = this.members.get(to)
        if (target === undefined || !target.online || !member.online)
          throw new PeerUnreachableError(`${to} is unreachable`)
        const handler = [...target.secAggHandlers][0]
        if (handler === undefined) throw new PeerUnreachableError(`${to} does not serve secure aggregation`)
        this.secAggBytes += frame.byteLength
        await new Promise((r) => setImmediate(r))
        options.signal?.throwIfAborted()
        const answer = await new Promise<Uint8Array>((resolve, reject) => {
          const onAbort = () => reject(options.signal?.reason)
          options.signal?.addEventListener('abort', onAbort, { once: true })
          handler(frame.slice(), id)
            .then(resolve, reject)
            .finally(() => options.signal?.removeEventListener('abort', onAbort))
        })
        if (!target.online || !member.online) throw new PeerUnreachableError(`${to} went offline`)
        this.secAggBytes += answer.byteLength
        return answer.slice()
      },
      onSecAggRequest: (h) => {
        member.secAggHandlers.add(h)
        return () => member.secAggHandlers.delete(h)
      },
      onLatestRequest: (h) => {
        member.latestHandlers.add(h)
        return () => member.latestHandlers.delete(h)
      },
    }
    const models: ModelStore = {
      put: async (bytes) => {
        const hash = localModelAddress(bytes)
        member.models.set(hash, bytes.slice())
        return hash
      },
      get: async (hash: string, options: SignalOptions & { providers?: string[]; expectedBytes?: number } = {}) => {
        const local = member.models.get(hash)
        if (local !== undefined) return local
        const order = [...(options.providers ?? []), ...this.members.keys()]
        for (const pid of order) {
          const p = this.members.get(pid)
          const bytes = p?.online === true ? p.models.get(hash) : undefined
          if (
            bytes !== undefined &&
            options.expectedBytes !== undefined &&
            bytes.byteLength !== options.expectedBytes
          ) {
            throw new RangeError(
              `model ${hash} has ${bytes.byteLength} bytes, the job's architecture ${options.expectedBytes}`,
            )
          }
          if (bytes !== undefined && localModelAddress(bytes) === hash) {
            member.models.set(hash, bytes)
            return bytes
          }
        }
        throw new PeerUnreachableError(`no reachable node has model ${hash}`)
      },
    }
    return {
      id,
      transport,
      models,
      setOnline: (online: boolean) => {
        member.online = online
      },
    }
  }

  /** Ids of nodes currently online. */
  online(): string[] {
    return [...this.members.values()].filter((m) => m.online).map((m) => m.id)
  }
}

/** Create an in-process network. */
export function createLocalNetwork(): LocalNetwork {
  return new LocalNetwork()
}

/** In-memory job state (survives a participant restart within the process). */
export function inMemoryJobStateStore(): JobStateStore {
  const states = new Map<string, PersistedJobState>()
  return {
    load: async (jobId) => {
      const s = states.get(jobId)
      return s === undefined ? undefined : structuredClone(s)
    },
    save: async (state) => {
      states.set(state.jobId, structuredClone(state))
    },
    list: async () => [...states.keys()],
  }
}

/**
 * Eligibility from a fixed list (allow-list), equal weights — the default until the chain
 * supplies stake and tiers.
 */
export function staticEligibility(
  aggregators: readonly string[] | (() => readonly string[]),
  trainers?: readonly string[] | (() => readonly string[]),
): EligibilityPolicy {
  const list = (x: readonly string[] | (() => readonly string[])): readonly string[] =>
    typeof x === 'function' ? x() : x
  return {
    committeeCandidates: (): EligibleNode[] => list(aggregators).map((peerId) => ({ peerId, weight: 1 })),
    ...(trainers !== undefined ? { expectedTrainers: () => [...list(trainers)] } : {}),
  }
}

/**
 * Eligibility from the job's own signed allow-lists (`spec.participants`), falling back to
 * `fallback` when the job names none. The chain-backed policy replaces this with stake and tiers.
 *
 * @example
 * ```ts
 * const policy = jobAllowListEligibility(staticEligibility(['a', 'b', 'c']))
 * ```
 */
export function jobAllowListEligibility(fallback?: EligibilityPolicy): EligibilityPolicy {
  return {
    committeeCandidates: (job, round) => {
      const list = job.spec.participants?.aggregators
      if (list !== undefined) return list.map((peerId) => ({ peerId, weight: 1 }))
      return fallback?.committeeCandidates(job, round) ?? []
    },
    expectedTrainers: (job, round) => job.spec.participants?.trainers ?? fallback?.expectedTrainers?.(job, round),
  }
}
