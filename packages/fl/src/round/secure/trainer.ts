/**
 * A trainer's side of one secure-aggregation round.
 * @module
 */
import { createSecAggClient, generateSecAggKeys } from '../../privacy/index.js'
import { ForgedMessageError } from '../errors.js'
import { sha256 } from '../hash.js'
import { type SecureRoundRef, type Sign, secAggContext, type Verify } from './common.js'
import {
  decodeSecAggFrame,
  encodeSecAggFrame,
  fromHex,
  maskedToBytes,
  rosterHash,
  SECAGG_PROTOCOL_VERSION,
  type SecAggResponse,
  SecAggResponseSchema,
  SecureRoundError,
  type SignedSurvivors,
  secAggSigningBytes,
  toHex,
  verifyCoordinatorSigned,
} from './frames.js'

/** Options of {@link runSecureTrainer}. */
export interface SecureTrainerInit {
  ref: SecureRoundRef
  self: string
  committee: readonly string[]
  vectorLength: number
  /** This trainer's sample count (advertised in stage 1, weighs its update). */
  numSamples: number
  /** The local update (trained params − global params), when training is done. */
  delta: Promise<Float32Array>
  /** Send a frame to a committee member (or handle it locally when it is this node) and get the answer. */
  send(to: string, frame: Uint8Array): Promise<Uint8Array>
  sign: Sign
  verify: Verify
}

/** What a trainer's side of a secure round did. */
export interface SecureTrainerOutcome {
  /** Bytes of its masked input (sent to every member). */
  bytes: number
  /** Members the masked input or unmasking shares could not reach. */
  failed: string[]
  survivors: number
}

/**
 * A trainer's side of one secure-aggregation round: advertise keys, share them, upload the masked
 * weighted update to every member, reveal unmasking shares. Throws typed errors when the round
 * cannot go on for it (e.g. it missed a stage's cut-off).
 */
export async function runSecureTrainer(init: SecureTrainerInit): Promise<SecureTrainerOutcome> {
  const { ref, self } = init
  const coordinator = init.committee[0] as string
  const expected = { coordinator, ...ref }
  const base = { v: SECAGG_PROTOCOL_VERSION as 1, ...ref, trainer: self }
  const signed = async <T extends { kind: string }>(unsigned: T): Promise<T & { signature: string }> => ({
    ...unsigned,
    signature: toHex(await init.sign(secAggSigningBytes(unsigned))),
  })
  const ask = async (to: string, header: unknown, body?: Uint8Array): Promise<SecAggResponse> =>
    decodeSecAggFrame(await init.send(to, encodeSecAggFrame(header, body)), SecAggResponseSchema).header

  // 1. keys → roster
  const keys = generateSecAggKeys()
  const r1 = await ask(
    coordinator,
    await signed({
      ...base,
      kind: 'keys' as const,
      encryptionKey: toHex(keys.encryptionKey),
      maskingKey: toHex(keys.maskingKey),
      numSamples: init.numSamples,
    }),
  )
  if (r1.kind !== 'roster') throw new SecureRoundError(`expected a roster, got ${r1.kind}`)
  const roster = r1.roster
  await verifyCoordinatorSigned(roster, expected, init.verify)
  const me = roster.entries.find((e) => e.peer === self)
  if (me === undefined || me.encryptionKey !== toHex(keys.encryptionKey) || me.maskingKey !== toHex(keys.maskingKey)) {
    throw new ForgedMessageError('the roster does not carry this trainer’s keys')
  }
  const client = createSecAggClient({
    id: me.id,
    threshold: roster.threshold,
    vectorLength: init.vectorLength,
    context: secAggContext(ref),
    keys,
  })
  client.advertiseKeys()

  // 2. shares → inbox
  const shared = client.shareKeys(
    roster.entries.map((e) => ({
      id: e.id,
      encryptionKey: fromHex(e.encryptionKey),
      maskingKey: fromHex(e.maskingKey),
    })),
  )
  const r2 = await ask(
    coordinator,
    await signed({
      ...base,
      kind: 'shares' as const,
      from: me.id,
      shares: shared.shares.map((s) => ({ to: s.to, ciphertext: toHex(s.ciphertext) })),
    }),
  )
  if (r2.kind !== 'inbox') throw new SecureRoundError(`expected an inbox, got ${r2.kind}`)

  // 3. masked weighted update → every member; the coordinator answers with the survivors
  const delta = await init.delta
  const total = roster.entries.reduce((a, e) => a + e.numSamples, 0)
  const weight = me.numSamples / total
  const input = new Float32Array(delta.length)
  for (let i = 0; i < delta.length; i++) input[i] = (delta[i] as number) * weight
  const { masked } = client.maskInput(
    input,
    r2.shares.map((s) => ({ from: s.from, to: me.id, ciphertext: fromHex(s.ciphertext) })),
  )
  const body = maskedToBytes(masked)
  const header = await signed({
    ...base,
    kind: 'masked' as const,
    from: me.id,
    length: masked.length,
    bodyHash: sha256(body),
  })
  const failed: string[] = []
  let survivors: SignedSurvivors | undefined
  let coordinatorError: unknown
  await Promise.all(
    init.committee.map(async (member) => {
      try {
        const r = await ask(member, header, body)
        if (member === coordinator) {
          if (r.kind !== 'survivors') throw new SecureRoundError(`expected survivors, got ${r.kind}`)
          survivors = r.survivors
        }
      } catch (err) {
        failed.push(member)
        if (member === coordinator) coordinatorError = err
      }
    }),
  )
  if (survivors === undefined) throw coordinatorError ?? new SecureRoundError('no survivors list')
  const list: SignedSurvivors = survivors
  await verifyCoordinatorSigned(list, expected, init.verify)
  if (list.rosterHash !== rosterHash(roster)) throw new ForgedMessageError('survivors list of another roster')

  if (!list.survivors.some((s) => s.id === me.id)) {
    throw new SecureRoundError('this trainer’s masked input missed the cut-off: it is not in the sum')
  }

  // 4. unmasking shares → every member
  const u = client.unmask(list.survivors.map((s) => s.id))
  const reveal = await signed({
    ...base,
    kind: 'unmask' as const,
    from: me.id,
    roster,
    survivors: list,
    selfMaskShares: u.selfMaskShares.map((r) => ({ owner: r.owner, x: r.share.x, y: r.share.y.toString(16) })),
    maskingKeyShares: u.maskingKeyShares.map((r) => ({ owner: r.owner, x: r.share.x, y: r.share.y.toString(16) })),
  })
  await Promise.all(
    init.committee.map(async (member) => {
      try {
        await ask(member, reveal)
      } catch {
        if (!failed.includes(member)) failed.push(member)
      }
    }),
  )
  return { bytes: body.byteLength, failed, survivors: list.survivors.length }
}
