/**
 * The node's local REST API (127.0.0.1 only): status, peers, jobs (list, status, submit), and
 * models (raw bytes, or exported as a standard ONNX inference model). Bodies are validated with
 * zod; errors are JSON `{ error, message }` with a 4xx/5xx status.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
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

async function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength
    if (size > limit) throw new HttpError(413, 'PayloadTooLarge', `body over ${limit} bytes`)
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'InvalidJson', 'the body is not valid JSON')
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
  log: Logger
  /** The node's chain status (stake, tier, role verdicts), when it has a chain. */
  chain?: () => unknown
}): Promise<ApiServer> {
  const { node, participant, models } = opts
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const parts = url.pathname.split('/').filter(Boolean)
      try {
        if (req.method === 'GET' && url.pathname === '/status') {
          return json(res, 200, {
            peerId: node.peerId.toString(),
            multiaddrs: node.multiaddrs.map(String),
            roles: node.config.roles,
            jobs: participant.jobIds(),
            health: await node.health(),
            ...(opts.chain !== undefined ? { chain: opts.chain() } : {}),
          })
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
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
