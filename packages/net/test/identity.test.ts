import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity } from '../src/identity/index.js'

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 }

let root: string
let counter = 0
const freshPath = (name = 'identity.json'): string => join(root, `case-${counter++}`, name)

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vain-identity-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

async function expectIdentityError(promise: Promise<unknown>, message?: RegExp): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  )
  expect(err, 'expected the call to reject').toBeInstanceOf(Error)
  expect(err?.name).toBe('IdentityError')
  if (message !== undefined) expect(err?.message).toMatch(message)
  return err as Error
}

describe('loadOrCreateIdentity', () => {
  it('creates a key file once, then reloads the same peer id', async () => {
    const path = freshPath()
    const first = await loadOrCreateIdentity({ path })
    expect(first.created).toBe(true)
    expect(first.encrypted).toBe(false)
    expect(first.privateKey.type).toBe('Ed25519')
    expect(first.peerId.type).toBe('Ed25519')

    const second = await loadOrCreateIdentity({ path })
    expect(second.created).toBe(false)
    expect(second.peerId.toString()).toBe(first.peerId.toString())
    expect(second.privateKey.equals(first.privateKey)).toBe(true)

    const file = JSON.parse(await readFile(path, 'utf8'))
    expect(file).toMatchObject({
      format: 'vain-identity',
      version: 1,
      keyType: 'Ed25519',
      peerId: first.peerId.toString(),
    })
  })

  it('writes the file with mode 0600 in a 0700 directory and leaves no temporary file', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path })
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700)
    expect(await readdir(join(path, '..'))).toEqual(['identity.json'])
  })

  it('refuses a missing file when create is false', async () => {
    await expectIdentityError(loadOrCreateIdentity({ path: freshPath(), create: false }), /no identity file/)
  })

  it('encrypts with a passphrase and reloads with the same passphrase', async () => {
    const path = freshPath()
    const created = await loadOrCreateIdentity({ path, passphrase: 'correct horse', scrypt: FAST_SCRYPT })
    expect(created.encrypted).toBe(true)
    const raw = await readFile(path, 'utf8')
    const file = JSON.parse(raw)
    expect(file.encryption).toMatchObject({ kdf: 'scrypt', N: FAST_SCRYPT.N, cipher: 'aes-256-gcm' })
    expect(raw).not.toContain(Buffer.from(created.privateKey.raw).toString('base64'))

    const loaded = await loadOrCreateIdentity({ path, passphrase: 'correct horse' })
    expect(loaded.created).toBe(false)
    expect(loaded.encrypted).toBe(true)
    expect(loaded.peerId.toString()).toBe(created.peerId.toString())
    expect(loaded.privateKey.equals(created.privateKey)).toBe(true)
  })

  it('encrypts with the default scrypt parameters', async () => {
    const path = freshPath()
    const created = await loadOrCreateIdentity({ path, passphrase: 'pw' })
    expect(JSON.parse(await readFile(path, 'utf8')).encryption.N).toBe(2 ** 15)
    expect((await loadOrCreateIdentity({ path, passphrase: 'pw' })).peerId.equals(created.peerId)).toBe(true)
  })

  it('rejects a wrong passphrase without touching the file', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path, passphrase: 'right', scrypt: FAST_SCRYPT })
    const before = await readFile(path)
    await expectIdentityError(loadOrCreateIdentity({ path, passphrase: 'wrong' }), /wrong passphrase/)
    expect(await readFile(path)).toEqual(before)
  })

  it('asks for the passphrase of an encrypted file', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path, passphrase: 'secret', scrypt: FAST_SCRYPT })
    await expectIdentityError(loadOrCreateIdentity({ path }), /passphrase is required/)
  })

  it('detects an edited peer id in an encrypted file (it is authenticated data)', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path, passphrase: 'secret', scrypt: FAST_SCRYPT })
    const other = await loadOrCreateIdentity({ path: freshPath() })
    const file = JSON.parse(await readFile(path, 'utf8'))
    file.peerId = other.peerId.toString()
    await writeFile(path, JSON.stringify(file), { mode: 0o600 })
    await expectIdentityError(loadOrCreateIdentity({ path, passphrase: 'secret' }))
  })

  it('rejects a plaintext file whose key does not match the recorded peer id', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path })
    const other = await loadOrCreateIdentity({ path: freshPath() })
    const file = JSON.parse(await readFile(path, 'utf8'))
    file.peerId = other.peerId.toString()
    await writeFile(path, JSON.stringify(file), { mode: 0o600 })
    await expectIdentityError(loadOrCreateIdentity({ path }), /corrupt/)
  })

  it('rejects a truncated file and never overwrites it', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path })
    const full = await readFile(path)
    const truncated = full.subarray(0, Math.floor(full.byteLength / 2))
    await writeFile(path, truncated)
    await expectIdentityError(loadOrCreateIdentity({ path }), /corrupt or truncated/)
    expect(await readFile(path)).toEqual(truncated)
  })

  it('rejects an unknown format version', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path })
    const file = JSON.parse(await readFile(path, 'utf8'))
    file.version = 2
    await writeFile(path, JSON.stringify(file), { mode: 0o600 })
    await expectIdentityError(loadOrCreateIdentity({ path }), /format version 2/)
  })

  it.skipIf(process.platform === 'win32')(
    'refuses a group- or world-readable file and says how to fix it',
    async () => {
      const path = freshPath()
      await loadOrCreateIdentity({ path })
      await chmod(path, 0o644)
      await expectIdentityError(
        loadOrCreateIdentity({ path }),
        new RegExp(`chmod 600 ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      )
      await chmod(path, 0o640)
      await expectIdentityError(loadOrCreateIdentity({ path }), /chmod 600/)
      await chmod(path, 0o600)
      expect((await loadOrCreateIdentity({ path })).created).toBe(false)
    },
  )

  it('refuses an empty passphrase', async () => {
    await expectIdentityError(loadOrCreateIdentity({ path: freshPath(), passphrase: '' }), /passphrase/)
  })

  it('property: any file contents give an IdentityError, never another throw', async () => {
    const validPath = freshPath()
    await loadOrCreateIdentity({ path: validPath, passphrase: 'pw', scrypt: FAST_SCRYPT })
    const validEncrypted = JSON.parse(await readFile(validPath, 'utf8'))
    const validPlainPath = freshPath()
    await loadOrCreateIdentity({ path: validPlainPath })
    const validPlain = JSON.parse(await readFile(validPlainPath, 'utf8'))
    const keys = [...new Set([...Object.keys(validEncrypted), ...Object.keys(validPlain)])]
    const encKeys = Object.keys(validEncrypted.encryption)

    const contents = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc.string({ maxLength: 256 }).map((s) => new TextEncoder().encode(s)),
      fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
      // a valid file with some fields replaced by arbitrary JSON
      fc
        .tuple(
          fc.constantFrom(validPlain, validEncrypted),
          fc.dictionary(fc.constantFrom(...keys), fc.jsonValue(), { minKeys: 1 }),
          fc.dictionary(fc.constantFrom(...encKeys), fc.jsonValue()),
        )
        .map(([base, patch, encPatch]) => {
          const file = { ...base, ...patch }
          if (base.encryption !== undefined && Object.keys(encPatch).length > 0) {
            file.encryption = { ...base.encryption, ...encPatch }
          }
          return new TextEncoder().encode(JSON.stringify(file))
        }),
      // a valid file cut short
      fc.tuple(fc.constantFrom(validPlain, validEncrypted), fc.nat()).map(([base, cut]) => {
        const bytes = new TextEncoder().encode(JSON.stringify(base))
        return bytes.subarray(0, cut % bytes.byteLength)
      }),
    )
    const path = freshPath()
    await loadOrCreateIdentity({ path })
    await fc.assert(
      fc.asyncProperty(
        contents,
        fc.option(fc.constantFrom('pw', 'other'), { nil: undefined }),
        async (bytes, passphrase) => {
          await writeFile(path, bytes, { mode: 0o600 })
          try {
            const identity = await loadOrCreateIdentity({
              path,
              create: false,
              ...(passphrase !== undefined ? { passphrase } : {}),
            })
            // only an intact file can load, and then it must be the recorded key
            expect(identity.peerId.toString()).toMatch(/^12D3Koo/)
          } catch (err) {
            expect((err as Error).name).toBe('IdentityError')
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
