/**
 * The node's local REST API (127.0.0.1 only): status, peers, jobs (list, status, submit), and
 * models (raw bytes, or exported as a standard ONNX inference model). Bodies are validated with
 * zod; errors are JSON `{ error, message }` with a 4xx/5xx status.
 *
 * Web pages can send requests to 127.0.0.1 too, so the API holds against them: a request whose
 * `Host` is not a loopback name (`127.0.0.1`, `localhost`, `[::1]`, with this port) is refused
 * with 403 (DNS rebinding); a request with a body must be `Content-Type: application/json` (415);
 * every route but GET needs `Authorization: Bearer <token>` (401), the token being the node's
 * `<dataDir>/api-token` (random, 32 bytes hex, mode 0600, created on first start). `GET /metrics`
 * (Prometheus text) is a GET too: Prometheus scrapes it without a token.
 *
 * A body is at most 1 MiB (413) of JSON nested at most {@link MAX_BODY_DEPTH} levels (400
 * `TooDeep`, checked before the body is parsed or validated).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import {
  decodeModel,
  exportOnnx,
  fieldsOf,
  JobSpecSchema,
  ModelAddressSchema,
  type ModelStore,
  openRoundMessage,
  type Participant,
} from '@vain/fl'
import type { VainNode } from '@vain/net'
import { jsonNestingDepth } from '@vain/net/wire'
import type { Logger } from './logger.js'

export interface ApiServer {
  url: string
  close(): Promise<void>
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Deepest JSON nesting of a request body (a job spec nests a few levels, its free-form fields 16 more). */
const MAX_BODY_DEPTH = 64

async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new HttpError(413, 'PayloadTooLarge', `body over ${limit} bytes`)
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (jsonNestingDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new HttpError(400, 'TooDeep', `the body nests deeper than ${MAX_BODY_DEPTH} levels`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'InvalidJson', 'the body is not valid JSON')
  }
}

/** The file, in a node's data dir, that holds its REST API token. */
export const API_TOKEN_FILE = 'api-token'

/**
 * The node's REST API token: `<dataDir>/api-token`, created on first use (32 random bytes, hex,
 * mode 0600) and read back after.
 */
export async function loadApiToken(dataDir: string): Promise<string> {
  const file = join(dataDir, API_TOKEN_FILE)
  await mkdir(dataDir, { recursive: true })
  const token = randomBytes(32).toString('hex')
  try {
    await writeFile(file, `${token}\n`, { flag: 'wx', mode: 0o600 })
    return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const existing = (await readFile(file, 'utf8')).trim()
  if (existing.length < 32) {
    throw new Error(`${file} does not hold an API token (delete it and a new one is created at the next start)`)
  }
  // whoever can read the token can drive the node: keep it the owner's
  await chmod(file, 0o600)
  return existing
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** Whether a `Host` header names this server on a loopback name or address. */
function loopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false
  const m = /^(\[[^\]]*\]|[^:]+)(?::(\d+))?$/.exec(host.trim().toLowerCase())
  if (m === null || !LOOPBACK_HOSTS.has(m[1] as string)) return false
  return m[2] === undefined ? port === 80 : Number(m[2]) === port
}

/** Constant-time comparison of a presented token with the node's (over their digests: any length). */
function tokenMatches(presented: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(presented), digest(token)) && presented.length === token.length
}

/** Refuse what a web page (or a rebound DNS name) could send: see the module comment. */
function guard(req: IncomingMessage, port: number, token: string): void {
  if (!loopbackHost(req.headers.host, port)) {
    throw new HttpError(
      403,
      'ForbiddenHost',
      `the API answers only on 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`,
    )
  }
  const method = req.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD') return
  const auth = req.headers.authorization
  const presented = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined
  if (presented === undefined || !tokenMatches(presented, token)) {
    throw new HttpError(
      401,
      presented === undefined ? 'TokenRequired' : 'InvalidToken',
      `${method} needs 'Authorization: Bearer <token>' with the node's token (in <dataDir>/${API_TOKEN_FILE})`,
    )
  }
  const hasBody =
    method === 'POST' ||
    method === 'PUT' ||
    method === 'PATCH' ||
    req.headers['transfer-encoding'] !== undefined ||
    Number(req.headers['content-length'] ?? 0) > 0
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (hasBody && type !== 'application/json') {
    throw new HttpError(415, 'UnsupportedMediaType', `${method} bodies must be Content-Type: application/json`)
  }
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))
}

export async function startApi(opts: {
  node: VainNode
  participant: Participant
  models: ModelStore
  port: number
  /** The token non-GET requests must present (`Authorization: Bearer <token>`): see {@link loadApiToken}. */
  token: string
  log: Logger
  /** The node's chain status (stake, tier, role verdicts), when it has a chain. */
  chain?: () => unknown
  /** The node's resources (host sample, anomalies, scheduler, power profile, spare capacity, progress). */
  resources?: () => unknown
  /**
   * `GET /metrics` (Prometheus text format) and `GET /metrics/cluster` (the authenticated peers'
   * summaries over `/vain/metrics`). Like every GET they need no token (see apps/node/src/metrics.ts).
   */
  metrics?: { text: () => Promise<string>; cluster: () => Promise<unknown> }
}): Promise<ApiServer> {
  const { node, participant, models } = opts
  if (opts.token.length < 32) throw new Error('the API token must be at least 32 characters')
  let port = 0
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const parts = url.pathname.split('/').filter(Boolean)
      try {
        guard(req, port, opts.token)
        if (req.method === 'GET' && url.pathname === '/status') {
          return json(res, 200, {
            peerId: node.peerId.toString(),
            multiaddrs: node.multiaddrs.map(String),
            roles: node.config.roles,
            jobs: participant.jobIds(),
            health: await node.health(),
            ...(opts.chain !== undefined ? { chain: opts.chain() } : {}),
            ...(opts.resources !== undefined ? { resources: opts.resources() } : {}),
          })
        }
        if (req.method === 'GET' && url.pathname === '/metrics' && opts.metrics !== undefined) {
          const text = await opts.metrics.text()
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
          return res.end(text)
        }
        if (req.method === 'GET' && url.pathname === '/metrics/cluster' && opts.metrics !== undefined) {
          return json(res, 200, await opts.metrics.cluster())
        }
        if (req.method === 'GET' && url.pathname === '/peers') {
          return json(
            res,
            200,
            node.connectedPeers().map((p) => ({
              peerId: p.toString(),
              authenticated: node.authenticatedPeers().some((a) => a.equals(p)),
              roles: node.descriptor(p)?.roles ?? [],
              session: node.sessions.get(p),
            })),
          )
        }
        if (req.method === 'GET' && url.pathname === '/jobs') return json(res, 200, participant.jobIds())
        if (req.method === 'GET' && parts[0] === 'jobs' && parts.length === 2) {
          const status = participant.status(parts[1] as string)
          if (status === undefined) throw new HttpError(404, 'JobNotFound', `no job ${parts[1]} on this node`)
          // the signed envelopes, decoded (they were validated when the node took them)
          const { announcement, lastResults, ...rest } = status
          return json(res, 200, {
            ...rest,
            announcement: fieldsOf(openRoundMessage('job', announcement)),
            ...(lastResults !== undefined
              ? { lastResults: lastResults.map((r) => fieldsOf(openRoundMessage('result', r))) }
              : {}),
          })
        }
        if (req.method === 'DELETE' && parts[0] === 'jobs' && parts.length === 2) {
          const jobId = parts[1] as string
          if (!/^[0-9a-f]{64}$/.test(jobId))
            throw new HttpError(400, 'InvalidJobId', 'a job id is 64 lowercase hex chars')
          if (!(await participant.cancelJob(jobId)))
            throw new HttpError(404, 'JobNotFound', `no job ${jobId} on this node`)
          return json(res, 200, { jobId, ended: 'cancelled' })
        }
        if (req.method === 'POST' && url.pathname === '/jobs') {
          const body = await readBody(req)
          const parsed = JobSpecSchema.safeParse(body)
          if (!parsed.success) {
            throw new HttpError(
              400,
              'InvalidJob',
              parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
            )
          }
          const a = await participant.submitJob(parsed.data)
          return json(res, 201, { jobId: a.jobId })
        }
        if (req.method === 'GET' && parts[0] === 'models' && parts.length >= 2) {
          const address = parts[1] as string
          if (!ModelAddressSchema.safeParse(address).success) {
            throw new HttpError(400, 'InvalidModelAddress', 'a model address is its content id (bafy…)')
          }
          let bytes: Uint8Array
          try {
            bytes = await models.get(address, { signal: AbortSignal.timeout(30_000) })
          } catch (err) {
            if ((err as Error).name === 'InvalidModelAddressError') {
              throw new HttpError(400, 'InvalidModelAddress', (err as Error).message)
            }
            throw new HttpError(404, 'ModelNotFound', (err as Error).message)
          }
          if (parts[2] === 'onnx') {
            res.writeHead(200, { 'content-type': 'application/octet-stream' })
            return res.end(exportOnnx(decodeModel(bytes)))
          }
          res.writeHead(200, { 'content-type': 'application/octet-stream' })
          return res.end(bytes)
        }
        throw new HttpError(404, 'NotFound', `${req.method} ${url.pathname} is not an API route`)
      } catch (err) {
        if (err instanceof HttpError) return json(res, err.status, { error: err.code, message: err.message })
        opts.log.error('API error', { error: (err as Error).message })
        return json(res, 500, { error: (err as Error).name ?? 'Error', message: (err as Error).message })
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, '127.0.0.1', () => resolve())
  })
  port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
