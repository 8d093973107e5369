/**
 * The cryptographic core of secure aggregation (Bonawitz et al. 2017, "Practical Secure
 * Aggregation for Privacy-Preserving Machine Learning", semi-honest variant): the server learns
 * the **sum** of the clients' vectors and nothing else, and the sum survives clients dropping out
 * at any stage as long as at least `threshold` remain.
 *
 * 1. **Advertise keys** — each client makes two X25519 key pairs: `c` (to encrypt shares to
 *    each other through the server) and `s` (to agree pairwise mask seeds).
 * 2. **Share keys** — each client draws a self-mask seed `b`, splits `b` and its `s` private key
 *    into Shamir shares (threshold t) for every client, and sends each share encrypted
 *    (AES-256-GCM under an X25519 + HKDF key) through the server.
 * 3. **Masked input** — each client encodes its vector in fixed point mod 2^32 and adds
 *    `PRG(b)` and, for every other client v, `±PRG(s_uv)` (+ if u < v, − otherwise), where
 *    `s_uv = HKDF(X25519(s_u, s_v))` and the PRG is the AES-256-CTR keystream. Pairwise masks
 *    cancel in the sum; the self mask hides a client whose pairwise masks get removed.
 * 4. **Unmasking** — given the survivors, each remaining client reveals, for every other client,
 *    either its share of `b` (survivors) or of the `s` key (dropped before uploading) — never both.
 *    The server rebuilds the seeds it needs, removes the masks and decodes the sum.
 *
 * Messages here are plain objects; the wire encoding and signatures come with the round
 * protocol (the active-adversary variant also signs every message and needs a consistency check).
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto'
import { ConfigError, InvalidUpdateError, ShapeMismatchError } from '../errors.js'
import { FixedPointOverflowError, InvalidShareError, SecAggProtocolError, TooFewSurvivorsError } from './errors.js'
import { combineShares, type ShamirShare, splitSecret } from './shamir.js'

const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1
const SEED_BYTES = 32
const SHARE_Y_BYTES = 66

// ——— key agreement, KDF, PRG ———

interface X25519Pair {
  privateKey: KeyObject
  privateRaw: Uint8Array
  publicRaw: Uint8Array
}

function generateX25519(): X25519Pair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return {
    privateKey,
    privateRaw: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)),
    publicRaw: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)),
  }
}

function privateKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' })
}

function agree(privateKey: KeyObject, peerPublicRaw: Uint8Array): Buffer {
  try {
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, peerPublicRaw]), format: 'der', type: 'spki' })
    return diffieHellman({ privateKey, publicKey })
  } catch (cause) {
    throw new SecAggProtocolError('X25519 key agreement failed (invalid public key?)', { cause })
  }
}

function derive(secret: Uint8Array, purpose: string, context: string, a: number, b: number): Buffer {
  const [lo, hi] = a < b ? [a, b] : [b, a]
  return Buffer.from(hkdfSync('sha256', secret, 'vain-secagg-v1', `${purpose}|${context}|${lo}|${hi}`, 32))
}

/** AES-256-CTR keystream of `seed` (zero IV) read as `length` little-endian uint32s. */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16))
  const stream = Buffer.concat([cipher.update(Buffer.alloc(4 * length)), cipher.final()])
  const out = new Uint32Array(length)
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(stream)
  else for (let i = 0; i < length; i++) out[i] = stream.readUInt32LE(4 * i)
  return out
}

function addMask(target: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  // Uint32Array stores wrap modulo 2^32
  if (sign === 1) for (let i = 0; i < target.length; i++) target[i] = target[i]! + mask[i]!
  else for (let i = 0; i < target.length; i++) target[i] = target[i]! - mask[i]!
}

// ——— fixed point ———

/** Largest |integer| one client may contribute so that `clients` of them cannot wrap mod 2^32. */
function fixedPointLimit(clients: number): number {
  return Math.floor(0x7fffffff / clients)
}

/**
 * Encodes values as two's-complement fixed point mod 2^32 (`round(x·2^fractionalBits)`),
 * refusing values whose sum over `clients` clients could wrap (`FixedPointOverflowError`).
 *
 * @example
 * ```ts
 * import { encodeFixedPoint } from '@vain/fl'
 * encodeFixedPoint(new Float32Array([0.5, -1]), { fractionalBits: 16, clients: 10 }) // [32768, 4294901760]
 * ```
 */
export function encodeFixedPoint(
  values: Float32Array,
  options: { fractionalBits: number; clients: number },
): Uint32Array {
  const scale = 2 ** options.fractionalBits
  const limit = fixedPointLimit(options.clients)
  const out = new Uint32Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const q = Math.round(values[i]! * scale)
    if (!(Math.abs(q) <= limit)) {
      throw new FixedPointOverflowError(
        `value ${values[i]} at index ${i} exceeds ±${limit / scale} (fixed point with ${options.fractionalBits} fractional bits, ${options.clients} clients)`,
      )
    }
    out[i] = q >>> 0
  }
  return out
}

/**
 * Decodes a fixed-point sum mod 2^32 back to numbers (two's complement, exact in float64).
 *
 * @example
 * ```ts
 * import { decodeFixedPoint } from '@vain/fl'
 * decodeFixedPoint(new Uint32Array([32768, 4294901760]), 16) // Float64Array [0.5, -1]
 * ```
 */
export function decodeFixedPoint(sum: Uint32Array, fractionalBits: number): Float64Array {
  const scale = 2 ** fractionalBits
  const out = new Float64Array(sum.length)
  for (let i = 0; i < sum.length; i++) out[i] = (sum[i]! | 0) / scale
  return out
}

// ——— messages ———

/** Stage 1, client → server → all: a client's public keys. */
export interface AdvertiseKeysMessage {
  id: number
  /** X25519 public key for encrypting shares (32 bytes). */
  encryptionKey: Uint8Array
  /** X25519 public key for pairwise mask agreement (32 bytes). */
  maskingKey: Uint8Array
}

/** One Shamir share pair, encrypted from one client to another (routed by the server). */
export interface EncryptedShare {
  from: number
  to: number
  /** nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16). */
  ciphertext: Uint8Array
}

/** Stage 2, client → server: encrypted shares for every client in the roster. */
export interface ShareKeysMessage {
  from: number
  shares: EncryptedShare[]
}

/** Stage 3, client → server: the masked fixed-point vector. */
export interface MaskedInputMessage {
  from: number
  masked: Uint32Array
}

/** A share of another client's secret, revealed at unmasking. */
export interface RevealedShare {
  /** Whose secret it is. */
  owner: number
  share: ShamirShare
}

/** Stage 4, client → server: shares of survivors' self-mask seeds and of dropped clients' mask keys. */
export interface UnmaskingMessage {
  from: number
  selfMaskShares: RevealedShare[]
  maskingKeyShares: RevealedShare[]
}

/** Parameters every participant of one secure-aggregation run agrees on. */
export interface SecAggConfig {
  /** Shamir threshold t: more than half the clients; the sum survives while >= t remain. */
  threshold: number
  /** Length of every client's vector. */
  vectorLength: number
  /** Fixed-point fractional bits (default 16: resolution 2^-16 ≈ 1.5e-5). */
  fractionalBits?: number
  /** Domain separation for keys and masks, e.g. `${jobId}:${round}` (default `'vain-secagg'`). */
  context?: string
}

interface Resolved {
  threshold: number
  vectorLength: number
  fractionalBits: number
  context: string
}

function resolve(config: SecAggConfig): Resolved {
  const { threshold, vectorLength } = config
  const fractionalBits = config.fractionalBits ?? 16
  if (!(Number.isInteger(threshold) && threshold >= 2))
    throw new ConfigError(`threshold must be an integer >= 2, got ${threshold}`)
  if (!(Number.isInteger(vectorLength) && vectorLength >= 0))
    throw new ConfigError(`vectorLength must be an integer >= 0, got ${vectorLength}`)
  if (!(Number.isInteger(fractionalBits) && fractionalBits >= 0 && fractionalBits <= 30)) {
    throw new ConfigError(`fractionalBits must be an integer in 0..30, got ${fractionalBits}`)
  }
  return { threshold, vectorLength, fractionalBits, context: config.context ?? 'vain-secagg' }
}

function checkId(id: number): void {
  if (!(Number.isInteger(id) && id >= 1 && id <= 65535))
    throw new SecAggProtocolError(`client ids must be integers in 1..65535, got ${id}`)
}

function shareAad(context: string, from: number, to: number): Buffer {
  return Buffer.from(`share|${context}|${from}|${to}`)
}

function yBytes(y: bigint): Buffer {
  return Buffer.from(y.toString(16).padStart(2 * SHARE_Y_BYTES, '0'), 'hex')
}

// ——— client ———

/**
 * A client's two X25519 key pairs, made before it knows its id or the roster (a network run
 * advertises the public keys first; the roster then assigns ids). Opaque; pass to
 * {@link createSecAggClient} as `keys`.
 */
export class SecAggKeys {
  /** @internal */
  readonly encryption: X25519Pair
  /** @internal */
  readonly masking: X25519Pair
  /** @internal use {@link generateSecAggKeys} */
  constructor(encryption: X25519Pair, masking: X25519Pair) {
    this.encryption = encryption
    this.masking = masking
  }
  /** The public encryption key (32 bytes). */
  get encryptionKey(): Uint8Array {
    return this.encryption.publicRaw
  }
  /** The public masking key (32 bytes). */
  get maskingKey(): Uint8Array {
    return this.masking.publicRaw
  }
}

/**
 * Fresh key pairs for one secure-aggregation run.
 *
 * @example
 * ```ts
 * import { createSecAggClient, generateSecAggKeys } from '@vain/fl'
 * const keys = generateSecAggKeys() // advertise keys.encryptionKey and keys.maskingKey
 * // …once the roster assigned id 4:
 * const client = createSecAggClient({ id: 4, threshold: 3, vectorLength: 10, keys })
 * ```
 */
export function generateSecAggKeys(): SecAggKeys {
  return new SecAggKeys(generateX25519(), generateX25519())
}

/** A client of one secure-aggregation run (one object per client per run). */
export interface SecAggClient {
  readonly id: number
  /** Stage 1. */
  advertiseKeys(): AdvertiseKeysMessage
  /** Stage 2: given the roster the server broadcast (including this client). */
  shareKeys(roster: readonly AdvertiseKeysMessage[]): ShareKeysMessage
  /** Stage 3: given this client's input and the encrypted shares addressed to it. */
  maskInput(input: Float32Array, inbox: readonly EncryptedShare[]): MaskedInputMessage
  /** Stage 4: given the clients whose masked inputs the server received. */
  unmask(survivors: readonly number[]): UnmaskingMessage
}

/**
 * Creates the client side of one secure-aggregation run. Each stage may be called once, in order
 * (`SecAggProtocolError` otherwise).
 *
 * @example
 * ```ts
 * import { createSecAggClient } from '@vain/fl'
 * const client = createSecAggClient({ id: 3, threshold: 6, vectorLength: delta.length })
 * const keys = client.advertiseKeys() // send to the server, and so on (see runSecureAggregation)
 * ```
 */
export function createSecAggClient(init: SecAggConfig & { id: number; keys?: SecAggKeys }): SecAggClient {
  const cfg = resolve(init)
  const id = init.id
  checkId(id)
  let stage = 0
  const keys = init.keys ?? generateSecAggKeys()
  if (!(keys instanceof SecAggKeys)) throw new ConfigError('keys must come from generateSecAggKeys()')
  const { encryption, masking } = keys
  const selfSeed = new Uint8Array(randomBytes(SEED_BYTES))
  let roster = new Map<number, AdvertiseKeysMessage>()
  /** Shares this client holds of other clients' secrets (and of its own). */
  const held = new Map<number, { maskingKey: ShamirShare; selfMask: ShamirShare }>()
  let u2: number[] = []

  const enter = (expected: number, name: string): void => {
    if (stage !== expected) throw new SecAggProtocolError(`client ${id}: ${name} called out of order`)
    stage++
  }

  return {
    id,
    advertiseKeys() {
      enter(0, 'advertiseKeys')
      return { id, encryptionKey: encryption.publicRaw, maskingKey: masking.publicRaw }
    },
    shareKeys(list) {
      enter(1, 'shareKeys')
      roster = new Map()
      for (const m of list) {
        checkId(m.id)
        if (roster.has(m.id)) throw new SecAggProtocolError(`roster lists client ${m.id} twice`)
        roster.set(m.id, m)
      }
      if (!roster.has(id)) throw new SecAggProtocolError(`roster does not include client ${id}`)
      if (roster.size < cfg.threshold) throw new TooFewSurvivorsError('keys', roster.size, cfg.threshold)
      if (2 * cfg.threshold <= roster.size) {
        throw new ConfigError(`threshold ${cfg.threshold} must exceed half of the ${roster.size} clients`)
      }
      const ids = [...roster.keys()].sort((a, b) => a - b)
      const keyShares = splitSecret(masking.privateRaw, { threshold: cfg.threshold, xs: ids })
      const seedShares = splitSecret(selfSeed, { threshold: cfg.threshold, xs: ids })
      const shares: EncryptedShare[] = []
      ids.forEach((to, k) => {
        const maskingKey = keyShares[k]!
        const selfMask = seedShares[k]!
        if (to === id) {
          held.set(id, { maskingKey, selfMask })
          return
        }
        const key = derive(agree(encryption.privateKey, roster.get(to)!.encryptionKey), 'enc', cfg.context, id, to)
        const nonce = randomBytes(12)
        const cipher = createCipheriv('aes-256-gcm', key, nonce)
        cipher.setAAD(shareAad(cfg.context, id, to))
        const body = Buffer.concat([
          cipher.update(Buffer.concat([yBytes(maskingKey.y), yBytes(selfMask.y)])),
          cipher.final(),
        ])
        shares.push({ from: id, to, ciphertext: new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()])) })
      })
      return { from: id, shares }
    },
    maskInput(input, inbox) {
      enter(2, 'maskInput')
      if (!(input instanceof Float32Array)) throw new InvalidUpdateError('input must be a Float32Array')
      if (input.length !== cfg.vectorLength)
        throw new ShapeMismatchError('secure aggregation input', [cfg.vectorLength], [input.length])
      for (const e of inbox) {
        if (e.to !== id) throw new SecAggProtocolError(`client ${id} got a share addressed to ${e.to}`)
        const sender = roster.get(e.from)
        if (sender === undefined || e.from === id) throw new SecAggProtocolError(`share from unknown client ${e.from}`)
        if (held.has(e.from)) throw new SecAggProtocolError(`two shares from client ${e.from}`)
        const ct = Buffer.from(e.ciphertext)
        if (ct.length !== 12 + 2 * SHARE_Y_BYTES + 16)
          throw new SecAggProtocolError(`share from ${e.from} has the wrong size`)
        const key = derive(agree(encryption.privateKey, sender.encryptionKey), 'enc', cfg.context, e.from, id)
        let plain: Buffer
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, ct.subarray(0, 12))
          decipher.setAAD(shareAad(cfg.context, e.from, id))
          decipher.setAuthTag(ct.subarray(ct.length - 16))
          plain = Buffer.concat([decipher.update(ct.subarray(12, ct.length - 16)), decipher.final()])
        } catch (cause) {
          throw new SecAggProtocolError(`share from client ${e.from} does not decrypt`, { cause })
        }
        const y1 = BigInt(`0x${plain.subarray(0, SHARE_Y_BYTES).toString('hex')}`)
        const y2 = BigInt(`0x${plain.subarray(SHARE_Y_BYTES).toString('hex')}`)
        held.set(e.from, { maskingKey: { x: id, y: y1 }, selfMask: { x: id, y: y2 } })
      }
      u2 = [...held.keys()].sort((a, b) => a - b)
      if (u2.length < cfg.threshold) throw new TooFewSurvivorsError('shares', u2.length, cfg.threshold)
      const masked = encodeFixedPoint(input, { fractionalBits: cfg.fractionalBits, clients: roster.size })
      addMask(masked, expandMask(selfSeed, cfg.vectorLength), 1)
      for (const v of u2) {
        if (v === id) continue
        const seed = derive(agree(masking.privateKey, roster.get(v)!.maskingKey), 'mask', cfg.context, id, v)
        addMask(masked, expandMask(seed, cfg.vectorLength), id < v ? 1 : -1)
      }
      return { from: id, masked }
    },
    unmask(survivors) {
      enter(3, 'unmask')
      const s3 = new Set(survivors)
      if (s3.size !== survivors.length) throw new SecAggProtocolError('survivor list has duplicates')
      for (const v of s3)
        if (!held.has(v)) throw new SecAggProtocolError(`survivor ${v} never shared keys with client ${id}`)
      if (s3.size < cfg.threshold) throw new TooFewSurvivorsError('masked-inputs', s3.size, cfg.threshold)
      const selfMaskShares: RevealedShare[] = []
      const maskingKeyShares: RevealedShare[] = []
      for (const owner of u2) {
        const h = held.get(owner)!
        if (s3.has(owner)) selfMaskShares.push({ owner, share: h.selfMask })
        else maskingKeyShares.push({ owner, share: h.maskingKey })
      }
      return { from: id, selfMaskShares, maskingKeyShares }
    },
  }
}

// ——— server ———

/** What the server recovers: the sum of the survivors' vectors. */
export interface SecAggResult {
  /** Σ of the contributors' fixed-point-rounded vectors (exact, float64). */
  sum: Float64Array
  /** Ids whose inputs are in the sum (the clients that uploaded a masked input), ascending. */
  contributors: number[]
}

/** The server of one secure-aggregation run: routes messages, removes masks, never sees an input. */
export interface SecAggServer {
  /** Stage 1: collects public keys; returns the roster to broadcast. */
  collectKeys(messages: readonly AdvertiseKeysMessage[]): AdvertiseKeysMessage[]
  /** Stage 2: collects encrypted shares; returns each client's inbox. */
  routeShares(messages: readonly ShareKeysMessage[]): Map<number, EncryptedShare[]>
  /** Stage 3: collects masked inputs; returns the survivors to announce. */
  collectMaskedInputs(messages: readonly MaskedInputMessage[]): number[]
  /** Stage 4: collects revealed shares and recovers the sum. */
  unmask(messages: readonly UnmaskingMessage[]): SecAggResult
}

/**
 * Creates the server side of one secure-aggregation run. Throws `TooFewSurvivorsError` whenever
 * fewer than `threshold` clients remain (or sent shares for some secret), `SecAggProtocolError`
 * for messages out of order, duplicated or from clients that are not in the run.
 *
 * @example
 * ```ts
 * import { createSecAggServer } from '@vain/fl'
 * const server = createSecAggServer({ threshold: 6, vectorLength: 1000 })
 * ```
 */
export function createSecAggServer(config: SecAggConfig): SecAggServer {
  const cfg = resolve(config)
  let stage = 0
  const roster = new Map<number, AdvertiseKeysMessage>()
  let u2 = new Set<number>()
  const inputs = new Map<number, Uint32Array>()
  const enter = (expected: number, name: string): void => {
    if (stage !== expected) throw new SecAggProtocolError(`server: ${name} called out of order`)
    stage++
  }
  const atLeast = (stageName: string, n: number, detail = ''): void => {
    if (n < cfg.threshold) throw new TooFewSurvivorsError(stageName, n, cfg.threshold, detail)
  }
  return {
    collectKeys(messages) {
      enter(0, 'collectKeys')
      for (const m of messages) {
        checkId(m.id)
        if (roster.has(m.id)) throw new SecAggProtocolError(`client ${m.id} advertised keys twice`)
        if (m.encryptionKey?.length !== 32 || m.maskingKey?.length !== 32)
          throw new SecAggProtocolError(`client ${m.id} sent malformed keys`)
        roster.set(m.id, m)
      }
      atLeast('keys', roster.size)
      if (2 * cfg.threshold <= roster.size)
        throw new ConfigError(`threshold ${cfg.threshold} must exceed half of the ${roster.size} clients`)
      return [...roster.values()].sort((a, b) => a.id - b.id)
    },
    routeShares(messages) {
      enter(1, 'routeShares')
      const inbox = new Map<number, EncryptedShare[]>()
      for (const m of messages) {
        if (!roster.has(m.from)) throw new SecAggProtocolError(`shares from unknown client ${m.from}`)
        if (u2.has(m.from)) throw new SecAggProtocolError(`client ${m.from} sent shares twice`)
        const recipients = new Set<number>()
        for (const s of m.shares) {
          if (s.from !== m.from || !roster.has(s.to) || s.to === m.from || recipients.has(s.to)) {
            throw new SecAggProtocolError(`client ${m.from} sent a misaddressed share`)
          }
          recipients.add(s.to)
        }
        if (recipients.size !== roster.size - 1)
          throw new SecAggProtocolError(`client ${m.from} did not send a share to every client`)
        u2.add(m.from)
      }
      atLeast('shares', u2.size)
      u2 = new Set([...u2].sort((a, b) => a - b))
      for (const m of messages) {
        for (const s of m.shares) {
          if (!u2.has(s.to)) continue
          const box = inbox.get(s.to) ?? []
          box.push(s)
          inbox.set(s.to, box)
        }
      }
      for (const v of u2) if (!inbox.has(v)) inbox.set(v, [])
      return inbox
    },
    collectMaskedInputs(messages) {
      enter(2, 'collectMaskedInputs')
      for (const m of messages) {
        if (!u2.has(m.from))
          throw new SecAggProtocolError(`masked input from client ${m.from}, which did not share keys`)
        if (inputs.has(m.from)) throw new SecAggProtocolError(`client ${m.from} sent two masked inputs`)
        if (!(m.masked instanceof Uint32Array) || m.masked.length !== cfg.vectorLength) {
          throw new SecAggProtocolError(`masked input of client ${m.from} has the wrong length`)
        }
        inputs.set(m.from, m.masked)
      }
      atLeast('masked-inputs', inputs.size)
      return [...inputs.keys()].sort((a, b) => a - b)
    },
    unmask(messages) {
      enter(3, 'unmask')
      return unmaskSum(cfg, roster, u2, inputs, messages)
    },
  }
}

/** What {@link recoverSum} needs: the stages' outcomes as a coordinator fixed them. */
export interface RecoverSumInput {
  /** Every client that advertised keys (the roster). */
  roster: readonly AdvertiseKeysMessage[]
  /** Ids of the clients that shared keys (stage 2); their masks are in the inputs. */
  sharers: readonly number[]
  /** The survivors' masked inputs (stage 3). */
  inputs: readonly MaskedInputMessage[]
  /** Unmasking messages from at least `threshold` survivors (stage 4). */
  unmasking: readonly UnmaskingMessage[]
}

/**
 * Recovers the sum from the outcome of the four stages, without running them: how each member
 * of a committee recomputes, on its own, the sum a coordinator's cut-offs define (any `threshold`
 * honest shares give the same seeds, so every member gets the same sum).
 *
 * @throws {TooFewSurvivorsError} when fewer than `threshold` shares of some secret arrived
 * @throws {SecAggProtocolError} for inconsistent input (unknown ids, a share of a non-sharer…)
 * @example
 * ```ts
 * import { recoverSum } from '@vain/fl'
 * const { sum, contributors } = recoverSum({ threshold: 3, vectorLength: n }, { roster, sharers, inputs, unmasking })
 * ```
 */
export function recoverSum(config: SecAggConfig, input: RecoverSumInput): SecAggResult {
  const cfg = resolve(config)
  const roster = new Map<number, AdvertiseKeysMessage>()
  for (const m of input.roster) {
    checkId(m.id)
    if (roster.has(m.id)) throw new SecAggProtocolError(`roster lists client ${m.id} twice`)
    if (m.encryptionKey?.length !== 32 || m.maskingKey?.length !== 32)
      throw new SecAggProtocolError(`client ${m.id} has malformed keys`)
    roster.set(m.id, m)
  }
  const u2 = new Set<number>()
  for (const id of [...input.sharers].sort((a, b) => a - b)) {
    if (!roster.has(id)) throw new SecAggProtocolError(`sharer ${id} is not in the roster`)
    u2.add(id)
  }
  const inputs = new Map<number, Uint32Array>()
  for (const m of input.inputs) {
    if (!u2.has(m.from)) throw new SecAggProtocolError(`masked input from client ${m.from}, which did not share keys`)
    if (inputs.has(m.from)) throw new SecAggProtocolError(`client ${m.from} sent two masked inputs`)
    if (!(m.masked instanceof Uint32Array) || m.masked.length !== cfg.vectorLength)
      throw new SecAggProtocolError(`masked input of client ${m.from} has the wrong length`)
    inputs.set(m.from, m.masked)
  }
  if (inputs.size < cfg.threshold) throw new TooFewSurvivorsError('masked-inputs', inputs.size, cfg.threshold)
  return unmaskSum(cfg, roster, u2, inputs, input.unmasking)
}

function unmaskSum(
  cfg: Resolved,
  roster: ReadonlyMap<number, AdvertiseKeysMessage>,
  u2: ReadonlySet<number>,
  inputs: ReadonlyMap<number, Uint32Array>,
  messages: readonly UnmaskingMessage[],
): SecAggResult {
  const atLeast = (stageName: string, n: number, detail = ''): void => {
    if (n < cfg.threshold) throw new TooFewSurvivorsError(stageName, n, cfg.threshold, detail)
  }
  const survivors = [...inputs.keys()].sort((a, b) => a - b)
  const selfShares = new Map<number, ShamirShare[]>()
  const keyShares = new Map<number, ShamirShare[]>()
  const responders = new Set<number>()
  for (const m of messages) {
    if (!inputs.has(m.from))
      throw new SecAggProtocolError(`unmasking shares from client ${m.from}, which is not a survivor`)
    if (responders.has(m.from)) throw new SecAggProtocolError(`client ${m.from} sent unmasking shares twice`)
    responders.add(m.from)
    for (const r of m.selfMaskShares) {
      if (!inputs.has(r.owner))
        throw new SecAggProtocolError(`client ${m.from} revealed a self-mask share of non-survivor ${r.owner}`)
      if (r.share.x !== m.from) throw new InvalidShareError(`client ${m.from} sent a share with x = ${r.share.x}`)
      selfShares.set(r.owner, [...(selfShares.get(r.owner) ?? []), r.share])
    }
    for (const r of m.maskingKeyShares) {
      if (!u2.has(r.owner) || inputs.has(r.owner)) {
        throw new SecAggProtocolError(
          `client ${m.from} revealed a masking-key share of ${r.owner}, which is not a dropped client`,
        )
      }
      if (r.share.x !== m.from) throw new InvalidShareError(`client ${m.from} sent a share with x = ${r.share.x}`)
      keyShares.set(r.owner, [...(keyShares.get(r.owner) ?? []), r.share])
    }
  }
  atLeast('unmasking', responders.size)
  // one extra share beyond t, when there is one, detects a corrupted share
  const pick = (shares: ShamirShare[]): ShamirShare[] =>
    [...shares].sort((a, b) => a.x - b.x).slice(0, cfg.threshold + 1)
  const sum = new Uint32Array(cfg.vectorLength)
  for (const u of survivors) addMask(sum, inputs.get(u)!, 1)
  for (const u of survivors) {
    const shares = selfShares.get(u) ?? []
    atLeast('unmasking', shares.length, `self-mask shares of client ${u}`)
    const seed = combineShares(pick(shares), { threshold: cfg.threshold, byteLength: SEED_BYTES })
    addMask(sum, expandMask(seed, cfg.vectorLength), -1)
  }
  for (const u of u2) {
    if (inputs.has(u)) continue
    const shares = keyShares.get(u) ?? []
    atLeast('unmasking', shares.length, `masking-key shares of dropped client ${u}`)
    const raw = combineShares(pick(shares), { threshold: cfg.threshold, byteLength: 32 })
    let key: KeyObject
    try {
      key = privateKeyFromRaw(raw)
    } catch (cause) {
      throw new InvalidShareError(`recovered masking key of client ${u} is invalid`, { cause })
    }
    for (const v of survivors) {
      const seed = derive(agree(key, roster.get(v)!.maskingKey), 'mask', cfg.context, u, v)
      // v added +PRG(s_uv) if v < u, −PRG otherwise: undo it
      addMask(sum, expandMask(seed, cfg.vectorLength), v < u ? -1 : 1)
    }
  }
  return { sum: decodeFixedPoint(sum, cfg.fractionalBits), contributors: survivors }
}

// ——— in-process run ———

/** Options of {@link runSecureAggregation}. */
export interface SecureAggregationRun {
  /** One vector per client; client `i` gets id `i + 1`. */
  inputs: readonly Float32Array[]
  /** Shamir threshold (default ⌊n/2⌋ + 1). */
  threshold?: number
  fractionalBits?: number
  context?: string
  /** Ids that vanish after advertising keys (before sharing them). */
  dropBeforeSharing?: readonly number[]
  /** Ids that vanish after sharing keys, before uploading their masked input. */
  dropBeforeUpload?: readonly number[]
  /** Ids that vanish after uploading their masked input, before unmasking. */
  dropAfterUpload?: readonly number[]
}

/**
 * Runs the four stages of secure aggregation in-process between `inputs.length` clients and a
 * server, with the given dropouts, and returns what the server recovers: the sum of the inputs of
 * every client that uploaded (dropouts after uploading are still in the sum — their self masks
 * are rebuilt from the others' shares). Throws `TooFewSurvivorsError` when fewer than the
 * threshold remain at any stage.
 *
 * @example
 * ```ts
 * import { runSecureAggregation } from '@vain/fl'
 * const { sum, contributors } = runSecureAggregation({
 *   inputs: deltas,               // 9 clients
 *   dropBeforeUpload: [2],        // vanished before sending its masked input
 *   dropAfterUpload: [5, 7],      // vanished after sending it
 * })
 * // sum = Σ of the deltas of clients 1,3,4,5,6,7,8,9 (to 2^-16), contributors = [1, 3, 4, 5, 6, 7, 8, 9]
 * ```
 */
export function runSecureAggregation(run: SecureAggregationRun): SecAggResult {
  const n = run.inputs.length
  if (n < 2) throw new ConfigError('secure aggregation needs at least 2 clients')
  const vectorLength = run.inputs[0]!.length
  const config: SecAggConfig = {
    threshold: run.threshold ?? Math.floor(n / 2) + 1,
    vectorLength,
    ...(run.fractionalBits !== undefined ? { fractionalBits: run.fractionalBits } : {}),
    ...(run.context !== undefined ? { context: run.context } : {}),
  }
  const clients = run.inputs.map((_, i) => createSecAggClient({ ...config, id: i + 1 }))
  const server = createSecAggServer(config)
  const gone = new Set<number>()
  const alive = () => clients.filter((c) => !gone.has(c.id))
  const drop = (ids: readonly number[] | undefined) => {
    for (const id of ids ?? []) gone.add(id)
  }

  const roster = server.collectKeys(clients.map((c) => c.advertiseKeys()))
  drop(run.dropBeforeSharing)
  const inbox = server.routeShares(alive().map((c) => c.shareKeys(roster)))
  drop(run.dropBeforeUpload)
  const survivors = server.collectMaskedInputs(
    alive().map((c) => c.maskInput(run.inputs[c.id - 1]!, inbox.get(c.id) ?? [])),
  )
  drop(run.dropAfterUpload)
  return server.unmask(alive().map((c) => c.unmask(survivors)))
}
