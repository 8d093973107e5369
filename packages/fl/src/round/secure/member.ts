/**
 * A committee member's side of one secure-aggregation round (the coordinator's too when it is the
 * committee's first member). The message flow is described in `./frames.ts`.
 * @module
 */
import { recoverSum } from '../../privacy/index.js'
import type { AdvertiseKeysMessage, UnmaskingMessage } from '../../privacy/secagg.js'
import { ForgedMessageError, RejectedUpdateError } from '../errors.js'
import { sha256 } from '../hash.js'
import type { Contribution } from '../messages.js'
import {
  deferred,
  type KeysRequest,
  MAX_TRAINERS,
  type MaskedRequest,
  type SecureAggregate,
  type SecureRoundMemberInit,
  type SecureRoundRef,
  type SharesRequest,
  secAggContext,
  type UnmaskRequest,
} from './common.js'
import {
  bytesToMasked,
  fromHex,
  meanFromSum,
  type RosterEntry,
  rosterHash,
  SECAGG_PROTOCOL_VERSION,
  SECAGG_STAGE_FRACTIONS,
  type SecAggRequest,
  type SecAggResponse,
  SecureRoundError,
  type SignedRoster,
  type SignedSurvivors,
  secAggSigningBytes,
  secAggThreshold,
  toHex,
  verifyCoordinatorSigned,
} from './frames.js'

/**
 * A committee member's side of one secure-aggregation round; the coordinator's too when it is
 * the committee's first member. Feed it requests with {@link handle}; {@link result} resolves with
 * the recovered mean update, or `undefined` (with {@link failure} saying why) when it cannot.
 */
export class SecureRoundMember {
  readonly ref: SecureRoundRef
  readonly coordinator: string
  readonly isCoordinator: boolean
  /** Why the round could not be aggregated here, once it could not. */
  failure: string | undefined
  private readonly init: SecureRoundMemberInit
  private readonly timers: Array<ReturnType<typeof setTimeout>> = []
  // coordinator
  private readonly keys = new Map<string, KeysRequest>()
  private readonly rosterReady = deferred<SignedRoster>()
  private readonly shares = new Map<number, SharesRequest>()
  private readonly sharesClosed = deferred<Set<number>>()
  private readonly uploads = new Map<number, string>()
  private readonly survivorsReady = deferred<SignedSurvivors>()
  // member
  private readonly masked = new Map<string, { from: number; hash: string; masked: Uint32Array }>()
  private readonly unmasks = new Map<number, UnmaskRequest>()
  private plan: { roster: SignedRoster; survivors: SignedSurvivors; hash: string } | undefined
  private readonly outcome = deferred<SecureAggregate | undefined>()
  private lingering = false
  private computing = false

  constructor(init: SecureRoundMemberInit) {
    this.init = init
    this.ref = init.ref
    this.coordinator = init.committee[0] as string
    this.isCoordinator = this.coordinator === init.self
    const at = (ms: number, fn: () => void): void => {
      const t = setTimeout(fn, Math.max(0, ms))
      t.unref?.()
      this.timers.push(t)
    }
    if (this.isCoordinator) {
      at(init.deadlineMs * SECAGG_STAGE_FRACTIONS.keys, () => void this.closeKeys())
      at(init.deadlineMs * SECAGG_STAGE_FRACTIONS.shares, () => this.closeShares())
      at(init.deadlineMs, () => void this.closeMasked())
    }
    at(init.deadlineMs + init.unmaskWaitMs, () => this.compute(true))
    init.signal.addEventListener('abort', () => this.close(), { once: true })
  }

  /** The recovered aggregate, or undefined when this member could not recover it. */
  result(): Promise<SecureAggregate | undefined> {
    return this.outcome.promise
  }

  /** Stop timers and release waiting requests. */
  close(): void {
    for (const t of this.timers) clearTimeout(t)
    const stopped = new SecureRoundError('the round ended')
    this.rosterReady.reject(stopped)
    this.sharesClosed.reject(stopped)
    this.survivorsReady.reject(stopped)
    this.outcome.resolve(undefined)
  }

  /** Handle a request from `from`, the authenticated sender, checked with {@link authenticateSecAgg}. */
  async handle(req: SecAggRequest, body: Uint8Array, from: string): Promise<SecAggResponse> {
    if (req.trainer !== from) throw new ForgedMessageError(`message signed for ${req.trainer} but sent by ${from}`)
    if (this.init.expected !== undefined && !this.init.expected.includes(req.trainer)) {
      throw new RejectedUpdateError(`${req.trainer} is not an eligible trainer this round`)
    }
    switch (req.kind) {
      case 'keys':
        return { kind: 'roster', roster: await this.onKeys(req) }
      case 'shares':
        return { kind: 'inbox', shares: await this.onShares(req) }
      case 'masked':
        return this.onMasked(req, body)
      case 'unmask':
        await this.onUnmask(req)
        return { kind: 'ack' }
    }
  }

  private mustCoordinate(stage: string): void {
    if (!this.isCoordinator) throw new SecureRoundError(`this node does not coordinate the round (${stage})`)
  }

  // ——— coordinator: stage 1 ———

  private async onKeys(req: KeysRequest): Promise<SignedRoster> {
    this.mustCoordinate('keys')
    if (this.rosterReady.settled || this.keys.size >= MAX_TRAINERS)
      throw new SecureRoundError('the keys stage of this round is closed')
    if (this.keys.has(req.trainer)) throw new RejectedUpdateError('keys advertised twice')
    this.keys.set(req.trainer, req)
    if (this.init.expected?.every((t) => this.keys.has(t))) void this.closeKeys()
    return this.rosterReady.promise
  }

  private closingKeys = false
  private async closeKeys(): Promise<void> {
    if (this.closingKeys || this.rosterReady.settled) return
    this.closingKeys = true
    const peers = [...this.keys.keys()].sort()
    if (peers.length < 2) {
      this.rosterReady.reject(
        new SecureRoundError(`only ${peers.length} trainer(s) advertised keys: secure aggregation needs at least 2`),
      )
      return
    }
    const entries: RosterEntry[] = peers.map((p, i) => {
      const k = this.keys.get(p) as KeysRequest
      return { id: i + 1, peer: p, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey, numSamples: k.numSamples }
    })
    const unsigned = {
      v: SECAGG_PROTOCOL_VERSION as 1,
      ...this.ref,
      kind: 'roster' as const,
      coordinator: this.init.self,
      threshold: secAggThreshold(entries.length),
      entries,
    }
    const roster: SignedRoster = {
      ...unsigned,
      signature: toHex(await this.init.sign(secAggSigningBytes(unsigned))),
    }
    this.rosterReady.resolve(roster)
  }

  // ——— coordinator: stage 2 ———

  private async onShares(req: SharesRequest): Promise<Array<{ from: number; ciphertext: string }>> {
    this.mustCoordinate('shares')
    const roster = await this.rosterReady.promise
    const entry = roster.entries.find((e) => e.peer === req.trainer)
    if (entry === undefined || entry.id !== req.from)
      throw new RejectedUpdateError(`${req.trainer} is not client ${req.from} of the roster`)
    if (this.sharesClosed.settled) throw new SecureRoundError('the shares stage of this round is closed')
    if (this.shares.has(req.from)) throw new RejectedUpdateError('shares sent twice')
    const to = new Set(req.shares.map((s) => s.to))
    const others = roster.entries.filter((e) => e.id !== req.from)
    if (to.size !== req.shares.length || to.size !== others.length || !others.every((e) => to.has(e.id))) {
      throw new RejectedUpdateError('shares must go to every other roster member exactly once')
    }
    this.shares.set(req.from, req)
    if (this.shares.size === roster.entries.length) this.closeShares()
    const sharers = await this.sharesClosed.promise
    const inbox: Array<{ from: number; ciphertext: string }> = []
    for (const s of this.shares.values()) {
      if (!sharers.has(s.from)) continue
      for (const share of s.shares)
        if (share.to === req.from) inbox.push({ from: s.from, ciphertext: share.ciphertext })
    }
    return inbox
  }

  private closeShares(): void {
    if (this.sharesClosed.settled) return
    if (!this.rosterReady.settled) {
      this.sharesClosed.reject(new SecureRoundError('no roster by the shares cut-off'))
      return
    }
    void this.rosterReady.promise.then(
      (roster) => {
        const sharers = new Set([...this.shares.keys()].sort((a, b) => a - b))
        if (sharers.size < roster.threshold) {
          this.sharesClosed.reject(
            new SecureRoundError(`only ${sharers.size} trainers shared keys, threshold ${roster.threshold}`),
          )
        } else this.sharesClosed.resolve(sharers)
      },
      (err: Error) => this.sharesClosed.reject(err),
    )
  }

  // ——— stage 3 (every member; the coordinator also fixes the survivors) ———

  private async onMasked(req: MaskedRequest, body: Uint8Array): Promise<SecAggResponse> {
    if (req.length !== this.init.vectorLength) {
      throw new RejectedUpdateError(`masked input of length ${req.length}, the model has ${this.init.vectorLength}`)
    }
    if (sha256(body) !== req.bodyHash) throw new ForgedMessageError('masked input does not match its signed hash')
    if (this.masked.has(req.trainer)) throw new RejectedUpdateError('masked input sent twice')
    if (this.masked.size >= MAX_TRAINERS) throw new SecureRoundError('too many masked inputs this round')
    const masked = bytesToMasked(body, req.length)
    if (this.isCoordinator) {
      const sharers = await this.sharesClosed.promise
      const roster = await this.rosterReady.promise
      const entry = roster.entries.find((e) => e.peer === req.trainer)
      if (entry === undefined || entry.id !== req.from || !sharers.has(req.from)) {
        throw new RejectedUpdateError(`${req.trainer} did not share keys as client ${req.from}`)
      }
      if (this.survivorsReady.settled) throw new SecureRoundError('the masked-input stage of this round is closed')
      this.masked.set(req.trainer, { from: req.from, hash: req.bodyHash, masked })
      this.uploads.set(req.from, req.bodyHash)
      if ([...sharers].every((id) => this.uploads.has(id))) void this.closeMasked()
      return { kind: 'survivors', survivors: await this.survivorsReady.promise }
    }
    this.masked.set(req.trainer, { from: req.from, hash: req.bodyHash, masked })
    this.check()
    return { kind: 'ack' }
  }

  private closingMasked = false
  private async closeMasked(): Promise<void> {
    if (this.closingMasked || this.survivorsReady.settled) return
    this.closingMasked = true
    let roster: SignedRoster
    let sharers: Set<number>
    try {
      roster = await this.rosterReady.promise
      sharers = await this.sharesClosed.promise
    } catch (err) {
      this.survivorsReady.reject(err as Error)
      return
    }
    const survivors = [...this.uploads.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, maskedHash]) => ({ id, maskedHash }))
    if (survivors.length < roster.threshold) {
      this.survivorsReady.reject(
        new SecureRoundError(`only ${survivors.length} masked inputs by the deadline, threshold ${roster.threshold}`),
      )
      return
    }
    const unsigned = {
      v: SECAGG_PROTOCOL_VERSION as 1,
      ...this.ref,
      kind: 'survivors' as const,
      coordinator: this.init.self,
      rosterHash: rosterHash(roster),
      sharers: [...sharers],
      survivors,
    }
    this.survivorsReady.resolve({
      ...unsigned,
      signature: toHex(await this.init.sign(secAggSigningBytes(unsigned))),
    })
  }

  // ——— stage 4 (every member) ———

  private async onUnmask(req: UnmaskRequest): Promise<void> {
    const expected = { coordinator: this.coordinator, ...this.ref }
    await verifyCoordinatorSigned(req.roster, expected, this.init.verify)
    await verifyCoordinatorSigned(req.survivors, expected, this.init.verify)
    const hash = rosterHash(req.roster)
    if (req.survivors.rosterHash !== hash) throw new ForgedMessageError('survivors list of another roster')
    const entry = req.roster.entries.find((e) => e.peer === req.trainer)
    if (entry === undefined || entry.id !== req.from || !req.survivors.survivors.some((s) => s.id === req.from)) {
      throw new RejectedUpdateError(`${req.trainer} is not survivor ${req.from}`)
    }
    if (this.plan === undefined) this.plan = { roster: req.roster, survivors: req.survivors, hash }
    else if (
      this.plan.hash !== hash ||
      sha256(secAggSigningBytes(this.plan.survivors)) !== sha256(secAggSigningBytes(req.survivors))
    ) {
      throw new ForgedMessageError('two different rosters or survivor lists for one round')
    }
    if (this.unmasks.has(req.from)) throw new RejectedUpdateError('unmasking shares sent twice')
    this.unmasks.set(req.from, req)
    this.check()
  }

  /** Compute once every survivor revealed its shares, or shortly after a threshold of them did. */
  private check(): void {
    const plan = this.plan
    if (plan === undefined || this.outcome.settled) return
    if (this.unmasks.size >= plan.survivors.survivors.length) this.compute(false)
    else if (this.unmasks.size >= plan.roster.threshold && !this.lingering) {
      this.lingering = true
      const t = setTimeout(() => this.compute(false), 500)
      t.unref?.()
      this.timers.push(t)
    }
  }

  private compute(final: boolean): void {
    if (this.outcome.settled || this.computing) return
    const plan = this.plan
    const fail = (reason: string): void => {
      this.failure = reason
      this.outcome.resolve(undefined)
    }
    if (plan === undefined) {
      if (final) fail('no unmasking shares arrived')
      return
    }
    const byPeer = new Map(plan.roster.entries.map((e) => [e.id, e.peer]))
    const inputs: Array<{ from: number; masked: Uint32Array }> = []
    for (const s of plan.survivors.survivors) {
      const held = this.masked.get(byPeer.get(s.id) as string)
      if (held === undefined) {
        if (final) fail(`the masked input of survivor ${s.id} never arrived here`)
        return
      }
      if (held.hash !== s.maskedHash || held.from !== s.id) {
        fail(`survivor ${s.id} sent this member another masked input than the coordinator's`)
        return
      }
      inputs.push({ from: s.id, masked: held.masked })
    }
    if (this.unmasks.size < plan.roster.threshold) {
      if (final) fail(`only ${this.unmasks.size} unmasking messages, threshold ${plan.roster.threshold}`)
      return
    }
    this.computing = true
    try {
      const roster: AdvertiseKeysMessage[] = plan.roster.entries.map((e) => ({
        id: e.id,
        encryptionKey: fromHex(e.encryptionKey),
        maskingKey: fromHex(e.maskingKey),
      }))
      const unmasking: UnmaskingMessage[] = [...this.unmasks.values()].map((u) => ({
        from: u.from,
        selfMaskShares: u.selfMaskShares.map((r) => ({ owner: r.owner, share: { x: r.x, y: BigInt(`0x${r.y}`) } })),
        maskingKeyShares: u.maskingKeyShares.map((r) => ({ owner: r.owner, share: { x: r.x, y: BigInt(`0x${r.y}`) } })),
      }))
      const { sum, contributors } = recoverSum(
        { threshold: plan.roster.threshold, vectorLength: this.init.vectorLength, context: secAggContext(this.ref) },
        { roster, sharers: plan.survivors.sharers, inputs, unmasking },
      )
      const { mean, numSamples } = meanFromSum(sum, plan.roster.entries, contributors)
      const entries = new Map(plan.roster.entries.map((e) => [e.id, e]))
      const hashes = new Map(plan.survivors.survivors.map((s) => [s.id, s.maskedHash]))
      const contributions: Contribution[] = contributors
        .map((id) => entries.get(id) as RosterEntry)
        .sort((a, b) => (a.peer < b.peer ? -1 : 1))
        .map((e) => ({
          trainer: e.peer,
          numSamples: e.numSamples,
          payloadHash: hashes.get(e.id) as string,
          payloadBytes: 4 * this.init.vectorLength,
        }))
      for (const t of this.timers) clearTimeout(t)
      this.outcome.resolve({ mean, numSamples, contributions })
    } catch (err) {
      fail(`cannot unmask: ${(err as Error).message}`)
    }
  }
}
