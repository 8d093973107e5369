/**
 * The on-disk format of a node identity: a small JSON document holding an Ed25519 or secp256k1
 * private key (libp2p protobuf encoding), either in the clear or sealed with AES-256-GCM under a key
 * derived from a passphrase with scrypt. Parsing any bytes gives a valid key file or an
 * {@link IdentityError}, never another kind of throw.
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto'
import { z } from 'zod'
import { IdentityError } from '../errors.js'
import { jsonNestingDepth } from '../wire/depth.js'

/** Version of the key file format written by this module. */
export const IDENTITY_FILE_VERSION = 1

/** Value of the `format` field: tells a vAIn key file from any other JSON file. */
export const IDENTITY_FILE_FORMAT = 'vain-identity'

/** Largest key file accepted, in bytes (a real one is well under 1 KiB). */
export const MAX_IDENTITY_FILE_BYTES = 64 * 1024

/** Deepest JSON nesting of a key file (it nests 2 levels: the file and its `encryption`). */
const MAX_IDENTITY_FILE_DEPTH = 8

/** scrypt cost parameters, stored in the key file next to the salt. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number
  /** Block size. */
  r: number
  /** Parallelisation. */
  p: number
}

/**
 * scrypt parameters used for new encrypted key files: N = 2^15, r = 8, p = 1 (32 MiB, about
 * 0.1 s on a laptop core).
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 })

/** The most memory (bytes) a key file may ask scrypt to use: files asking more are refused. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

const base64 = z
  .string()
  .max(MAX_IDENTITY_FILE_BYTES)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not base64')

const EncryptionSchema = z.object({
  kdf: z.literal('scrypt'),
  N: z
    .number()
    .int()
    .min(2 ** 10)
    .max(2 ** 20)
    .refine((n) => (n & (n - 1)) === 0, 'N must be a power of two'),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  salt: base64,
  cipher: z.literal('aes-256-gcm'),
  iv: base64,
  tag: base64,
})

const KeyFileSchema = z.object({
  format: z.literal(IDENTITY_FILE_FORMAT),
  version: z.number().int(),
  keyType: z.enum(['Ed25519', 'secp256k1']),
  peerId: z.string().min(1).max(128),
  createdAt: z.string().max(64).optional(),
  encryption: EncryptionSchema.optional(),
  privateKey: base64.min(1),
})

/**
 * Key types a node identity may have: Ed25519 (the default), or secp256k1 for nodes that stake
 * (the NodeRegistry checks a secp256k1 key's signature on chain).
 */
export const IDENTITY_KEY_TYPES = ['Ed25519', 'secp256k1'] as const

/** A key type a node identity may have. */
export type IdentityKeyType = (typeof IDENTITY_KEY_TYPES)[number]

/** The parsed content of a key file. */
export type KeyFile = z.output<typeof KeyFileSchema>

/** Encryption parameters of an encrypted key file. */
export type KeyFileEncryption = z.output<typeof EncryptionSchema>

/**
 * Parse the bytes of a key file.
 *
 * @throws {IdentityError} when the bytes are not a key file of a supported version
 * @example
 * ```ts
 * const file = parseKeyFile(await readFile(path), path)
 * if (file.encryption !== undefined) console.log('passphrase needed')
 * ```
 */
export function parseKeyFile(bytes: Uint8Array, path: string): KeyFile {
  if (bytes.byteLength === 0) throw new IdentityError(`identity file ${path} is empty (truncated?)`)
  if (bytes.byteLength > MAX_IDENTITY_FILE_BYTES) {
    throw new IdentityError(`identity file ${path} is too large (${bytes.byteLength} bytes): not a key file`)
  }
  let text: string
  let json: unknown
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (cause) {
    throw new IdentityError(`identity file ${path} is corrupt or truncated: not valid JSON`, { cause })
  }
  if (jsonNestingDepth(text, MAX_IDENTITY_FILE_DEPTH) > MAX_IDENTITY_FILE_DEPTH) {
    throw new IdentityError(`identity file ${path} is corrupt: nested deeper than ${MAX_IDENTITY_FILE_DEPTH} levels`)
  }
  try {
    json = JSON.parse(text)
  } catch (cause) {
    throw new IdentityError(`identity file ${path} is corrupt or truncated: not valid JSON`, { cause })
  }
  const versionOnly = z.object({ version: z.number() }).safeParse(json)
  if (versionOnly.success && versionOnly.data.version !== IDENTITY_FILE_VERSION) {
    throw new IdentityError(
      `identity file ${path} has format version ${versionOnly.data.version}; this build reads version ${IDENTITY_FILE_VERSION}`,
    )
  }
  const parsed = KeyFileSchema.safeParse(json)
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ')
    throw new IdentityError(`identity file ${path} is corrupt: ${issues}`, { cause: parsed.error })
  }
  const enc = parsed.data.encryption
  if (enc !== undefined) {
    if (128 * enc.N * enc.r > MAX_SCRYPT_MEMORY) {
      throw new IdentityError(`identity file ${path} asks for scrypt parameters beyond the allowed memory`)
    }
    if (fromBase64(enc.iv).byteLength !== 12 || fromBase64(enc.tag).byteLength !== 16) {
      throw new IdentityError(`identity file ${path} is corrupt: bad AES-GCM iv or tag length`)
    }
    if (fromBase64(enc.salt).byteLength < 16) {
      throw new IdentityError(`identity file ${path} is corrupt: scrypt salt shorter than 16 bytes`)
    }
  }
  return parsed.data
}

/**
 * Serialise a key file as pretty JSON (UTF-8, trailing newline).
 *
 * @example
 * ```ts
 * await writeFile(path, serializeKeyFile(file), { mode: 0o600 })
 * ```
 */
export function serializeKeyFile(file: KeyFile): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(file, null, 2)}\n`)
}

/**
 * Seal private key bytes under a passphrase (scrypt → AES-256-GCM; the peer id is bound as
 * additional authenticated data, so editing it is detected like a wrong passphrase).
 *
 * @example
 * ```ts
 * const { encryption, ciphertext } = await encryptPrivateKey(keyBytes, 'hunter2', peerId.toString())
 * ```
 */
export async function encryptPrivateKey(
  plaintext: Uint8Array,
  passphrase: string,
  peerId: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<{ encryption: KeyFileEncryption; ciphertext: Uint8Array }> {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const key = await deriveKey(passphrase, salt, params)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(additionalData(peerId))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return {
    encryption: {
      kdf: 'scrypt',
      N: params.N,
      r: params.r,
      p: params.p,
      salt: toBase64(salt),
      cipher: 'aes-256-gcm',
      iv: toBase64(iv),
      tag: toBase64(cipher.getAuthTag()),
    },
    ciphertext: new Uint8Array(ciphertext),
  }
}

/**
 * Open a sealed private key.
 *
 * @throws {IdentityError} when the passphrase is wrong or the file was modified
 * @example
 * ```ts
 * const keyBytes = await decryptPrivateKey(file, 'hunter2', path)
 * ```
 */
export async function decryptPrivateKey(file: KeyFile, passphrase: string, path: string): Promise<Uint8Array> {
  const enc = file.encryption
  if (enc === undefined) return fromBase64(file.privateKey)
  let key: Buffer
  try {
    key = await deriveKey(passphrase, fromBase64(enc.salt), enc)
  } catch (cause) {
    throw new IdentityError(`identity file ${path}: cannot derive the key (${(cause as Error).message})`, { cause })
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64(enc.iv))
    decipher.setAAD(additionalData(file.peerId))
    decipher.setAuthTag(fromBase64(enc.tag))
    const plain = Buffer.concat([decipher.update(fromBase64(file.privateKey)), decipher.final()])
    return new Uint8Array(plain)
  } catch (cause) {
    throw new IdentityError(`identity file ${path}: wrong passphrase (or the encrypted key file was modified)`, {
      cause,
    })
  }
}

function deriveKey(passphrase: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(passphrase.normalize('NFC'), 'utf8'),
      salt,
      32,
      { N: params.N, r: params.r, p: params.p, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 },
      (err, key) => (err === null ? resolve(key) : reject(err)),
    )
  })
}

function additionalData(peerId: string): Buffer {
  return Buffer.from(`${IDENTITY_FILE_FORMAT}/v${IDENTITY_FILE_VERSION}/${peerId}`, 'utf8')
}

/** Base64 of `bytes` (standard alphabet, padded). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

/** Bytes of a base64 string already checked by the schema. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'))
}
