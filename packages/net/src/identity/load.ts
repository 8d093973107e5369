/**
 * Load the node's persistent identity (Ed25519, or secp256k1 for nodes that stake) from a key
 * file, or create one the first time.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { link, lstat, mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId, Secp256k1PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { IdentityError } from '../errors.js'
import {
  decryptPrivateKey,
  encryptPrivateKey,
  IDENTITY_FILE_FORMAT,
  IDENTITY_FILE_VERSION,
  type IdentityKeyType,
  type KeyFile,
  MAX_IDENTITY_FILE_BYTES,
  parseKeyFile,
  type ScryptParams,
  serializeKeyFile,
  toBase64,
} from './key-file.js'

/** Options of {@link loadOrCreateIdentity}. */
export interface IdentityOptions {
  /** Path of the key file, e.g. `~/.vain/identity.json`. */
  path: string
  /**
   * Passphrase that seals the key. Required to open an encrypted file; when creating a file,
   * giving one encrypts it (scrypt + AES-256-GCM). Ignored for a plaintext file.
   */
  passphrase?: string
  /** Create a new key when the file does not exist. Default `true`; `false` makes a missing file an error. */
  create?: boolean
  /** scrypt cost for a newly created encrypted file. Default {@link DEFAULT_SCRYPT_PARAMS}. */
  scrypt?: ScryptParams
  /**
   * Key type of a newly created identity. Default `'Ed25519'`; nodes that stake need
   * `'secp256k1'` (the NodeRegistry checks its signature on chain). An existing file keeps its type.
   */
  keyType?: IdentityKeyType
}

/** A loaded node identity. */
export interface NodeIdentity {
  /** The node's private key (Ed25519 or secp256k1): pass it to `createLibp2p({ privateKey })`. */
  privateKey: Ed25519PrivateKey | Secp256k1PrivateKey
  /** The peer id derived from the key. */
  peerId: PeerId
  /** `true` when this call generated the key and wrote the file. */
  created: boolean
  /** `true` when the file is passphrase-encrypted. */
  encrypted: boolean
  /** Absolute path of the key file. */
  path: string
}

/**
 * Load the node identity from `path`, creating a new key there (Ed25519, or `keyType`) if the
 * file does not exist (unless `create: false`). A new file is written atomically (temporary file, fsync,
 * then linked into place so that an existing file is never overwritten) with mode 0600, in a
 * directory created with mode 0700.
 *
 * @throws {IdentityError} when the file is corrupt or truncated, has an unsupported version,
 * is readable by group or others (fix with `chmod 600 <path>`), is encrypted and no or the
 * wrong passphrase is given, or is missing and `create` is `false`
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { loadOrCreateIdentity } from '@vain/net'
 *
 * const { privateKey, peerId, created } = await loadOrCreateIdentity({
 *   path: `${process.env.HOME}/.vain/identity.json`,
 *   passphrase: process.env.VAIN_PASSPHRASE,
 * })
 * if (created) console.log(`new node identity ${peerId}`)
 * const node = await createLibp2p({ privateKey })
 * ```
 */
export async function loadOrCreateIdentity(options: IdentityOptions): Promise<NodeIdentity> {
  if (typeof options.path !== 'string' || options.path.length === 0) {
    throw new IdentityError('identity path must be a non-empty string')
  }
  if (options.keyType !== undefined && options.keyType !== 'Ed25519' && options.keyType !== 'secp256k1') {
    throw new IdentityError(`identity key type must be 'Ed25519' or 'secp256k1', not ${String(options.keyType)}`)
  }
  if (options.passphrase !== undefined && options.passphrase.length === 0) {
    throw new IdentityError('identity passphrase must not be empty (leave it out for an unencrypted file)')
  }
  const path = resolve(options.path)
  const existing = await loadIfExists(path, options.passphrase)
  if (existing !== undefined) return existing
  if (options.create === false) {
    throw new IdentityError(`no identity file at ${path} (and create is false)`)
  }
  return create(path, options)
}

async function loadIfExists(path: string, passphrase: string | undefined): Promise<NodeIdentity | undefined> {
  let bytes: Uint8Array
  try {
    const stats = await stat(path) // follows symlinks (e.g. mounted secrets); checks the target
    if (!stats.isFile()) {
      throw new IdentityError(`identity path ${path} is not a regular file`)
    }
    assertPrivateMode(path, stats.mode)
    if (stats.size > MAX_IDENTITY_FILE_BYTES) {
      throw new IdentityError(`identity file ${path} is too large (${stats.size} bytes): not a key file`)
    }
    bytes = await readAll(path)
  } catch (err) {
    if (err instanceof IdentityError) throw err
    if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') return undefined
    throw new IdentityError(`cannot read identity file ${path}: ${(err as Error)?.message ?? err}`, { cause: err })
  }
  return decodeIdentity(bytes, path, passphrase)
}

async function decodeIdentity(bytes: Uint8Array, path: string, passphrase: string | undefined): Promise<NodeIdentity> {
  const file = parseKeyFile(bytes, path)
  const encrypted = file.encryption !== undefined
  if (encrypted && passphrase === undefined) {
    throw new IdentityError(`identity file ${path} is encrypted: a passphrase is required to open it`)
  }
  const keyBytes = await decryptPrivateKey(file, passphrase ?? '', path)
  let privateKey: Ed25519PrivateKey | Secp256k1PrivateKey
  let peerId: PeerId
  try {
    const key = privateKeyFromProtobuf(keyBytes)
    if (key.type !== 'Ed25519' && key.type !== 'secp256k1') {
      throw new IdentityError(`identity file ${path} holds a ${key.type} key; only Ed25519 and secp256k1 are supported`)
    }
    if (key.type !== file.keyType) {
      throw new IdentityError(`identity file ${path} is corrupt: it says ${file.keyType} but holds a ${key.type} key`)
    }
    privateKey = key
    peerId = peerIdFromPrivateKey(key)
  } catch (cause) {
    if (cause instanceof IdentityError) throw cause
    throw new IdentityError(`identity file ${path} is corrupt: the private key does not decode`, { cause })
  }
  if (peerId.toString() !== file.peerId) {
    throw new IdentityError(
      `identity file ${path} is corrupt: its key belongs to ${peerId.toString()}, not the recorded ${file.peerId}`,
    )
  }
  return { privateKey, peerId, created: false, encrypted, path }
}

async function create(path: string, options: IdentityOptions): Promise<NodeIdentity> {
  const keyType = options.keyType ?? 'Ed25519'
  const privateKey = keyType === 'secp256k1' ? await generateKeyPair('secp256k1') : await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const keyBytes = privateKeyToProtobuf(privateKey)
  let file: KeyFile
  if (options.passphrase !== undefined) {
    const sealed = await encryptPrivateKey(keyBytes, options.passphrase, peerId.toString(), options.scrypt)
    file = {
      format: IDENTITY_FILE_FORMAT,
      version: IDENTITY_FILE_VERSION,
      keyType,
      peerId: peerId.toString(),
      createdAt: new Date().toISOString(),
      encryption: sealed.encryption,
      privateKey: toBase64(sealed.ciphertext),
    }
  } else {
    file = {
      format: IDENTITY_FILE_FORMAT,
      version: IDENTITY_FILE_VERSION,
      keyType,
      peerId: peerId.toString(),
      createdAt: new Date().toISOString(),
      privateKey: toBase64(keyBytes),
    }
  }
  const written = await writeNoClobber(path, serializeKeyFile(file))
  if (!written) {
    // another process created the file between our check and our write: use theirs
    const existing = await loadIfExists(path, options.passphrase)
    if (existing !== undefined) return existing
    throw new IdentityError(`identity file ${path} appeared and vanished while creating it`)
  }
  return { privateKey, peerId, created: true, encrypted: file.encryption !== undefined, path }
}

/**
 * Write `bytes` to `path` atomically without replacing an existing file. Returns `false` when
 * the file already exists.
 */
async function writeNoClobber(path: string, bytes: Uint8Array): Promise<boolean> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.chmod(0o600)
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    let placed: boolean
    try {
      await link(tmp, path) // atomic, and fails with EEXIST instead of replacing
      placed = true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') {
        placed = false
      } else if (await exists(path)) {
        placed = false
      } else {
        // file systems without hard links: rename (atomic, but cannot refuse to replace)
        await rename(tmp, path)
        placed = true
      }
    }
    await unlink(tmp).catch(() => undefined)
    await syncDir(dir)
    return placed
  } catch (cause) {
    await unlink(tmp).catch(() => undefined)
    throw new IdentityError(`cannot write identity file ${path}: ${(cause as Error)?.message ?? cause}`, { cause })
  }
}

function assertPrivateMode(path: string, mode: number): void {
  if (process.platform === 'win32') return
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(3, '0')
    throw new IdentityError(
      `identity file ${path} has mode ${octal}: group or others can access the private key. Refusing to use it; run: chmod 600 ${path}`,
    )
  }
}

async function readAll(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    return new Uint8Array(await handle.readFile())
  } finally {
    await handle.close()
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // some platforms cannot fsync a directory; the file itself is already synced
  }
}
