/**
 * The CLI's client of a running node's REST API (`--api URL`): the token from `-d DIR/api-token`
 * or `VAIN_API_TOKEN`, typed error bodies turned into one clear line ({@link ApiRequestError}).
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { API_TOKEN_FILE } from '../api.js'
import { resolvePath, UsageError } from './common.js'

/** The API answered an error (4xx/5xx) or could not be reached: exit code 1. */
export class ApiRequestError extends Error {
  static override name = 'ApiRequestError'
  override name = 'ApiRequestError'
  constructor(
    /** HTTP status; 0 when the node could not be reached. */
    readonly status: number,
    /** The API's error name, e.g. `JobNotFound`, `InvalidToken`, `Unreachable`. */
    readonly errorName: string,
    message: string,
  ) {
    super(message)
  }
}

/** Both error shapes: `{ error: { name, message } }` under `/api`, `{ error, message }` on legacy paths. */
const ErrorBodySchema = z.union([
  z.object({ error: z.object({ name: z.string(), message: z.string() }) }),
  z.object({ error: z.string(), message: z.string().optional() }),
])

/** Options of the commands that talk to a node. */
export interface ApiOptions {
  api?: string | undefined
  dataDir?: string | undefined
}

/** The CLI help paragraph on `--api` and the token. */
export const API_HELP = `The node's REST API answers on 127.0.0.1/localhost only (vain start prints it: "REST API listening",
and its ready line's "api"). Requests that change the node need its API token: from -d DIR
(DIR/${API_TOKEN_FILE}), else the VAIN_API_TOKEN environment variable.`

/** A client of one node's API. */
export class ApiClient {
  private constructor(
    readonly base: URL,
    private readonly token: string | undefined,
    private readonly tokenHint: string,
  ) {}

  /** From `--api URL` and `-d DIR` (token file) or `VAIN_API_TOKEN`; a bad URL or unreadable token file is a usage error. */
  static async from(opts: ApiOptions): Promise<ApiClient> {
    if (opts.api === undefined) {
      throw new UsageError(
        '--api URL is required (vain start prints it: "REST API listening", e.g. http://127.0.0.1:PORT)',
      )
    }
    let base: URL
    try {
      base = new URL(opts.api)
    } catch {
      throw new UsageError(`--api: '${opts.api}' is not a URL (e.g. http://127.0.0.1:8080)`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new UsageError(`--api: '${opts.api}' must be an http(s) URL`)
    }
    let token: string | undefined
    const dir = resolvePath(opts.dataDir)
    if (dir !== undefined) {
      const file = join(dir, API_TOKEN_FILE)
      try {
        token = (await readFile(file, 'utf8')).trim()
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new UsageError(
          `cannot read the node's API token from ${file}${code === 'ENOENT' ? ": no such file (is DIR the node's data dir?)" : `: ${(err as Error).message}`}`,
        )
      }
    } else {
      const env = process.env.VAIN_API_TOKEN?.trim()
      token = env === undefined || env === '' ? undefined : env
    }
    return new ApiClient(base, token, `--data-dir DIR (reads DIR/${API_TOKEN_FILE}) or VAIN_API_TOKEN`)
  }

  /** Throws a usage error naming where the token comes from when there is none. */
  needToken(what: string): void {
    if (this.token === undefined) throw new UsageError(`${what} needs the node's API token: ${this.tokenHint}`)
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.token !== undefined) headers.set('authorization', `Bearer ${this.token}`)
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`)
    let res: Response
    try {
      res = await fetch(url, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(120_000) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      const why = cause?.code ?? cause?.message ?? (err as Error).message
      throw new ApiRequestError(
        0,
        'Unreachable',
        `cannot reach the node at ${this.base.origin} (${why}): is it running?`,
      )
    }
    if (!res.ok) {
      let name = `HTTP${res.status}`
      let message = res.statusText
      try {
        const parsed = ErrorBodySchema.safeParse(await res.json())
        if (parsed.success) {
          const e = parsed.data.error
          if (typeof e === 'string') {
            name = e
            message = (parsed.data as { message?: string }).message ?? ''
          } else {
            name = e.name
            message = e.message
          }
        }
      } catch {
        // not JSON: the status says it
      }
      throw new ApiRequestError(res.status, name, message)
    }
    return res
  }

  /** GET/POST/DELETE answering JSON. */
  async json(path: string, init: RequestInit = {}): Promise<unknown> {
    const res = await this.request(path, init)
    try {
      return await res.json()
    } catch {
      throw new ApiRequestError(
        res.status,
        'InvalidResponse',
        `the node answered ${path} with something that is not JSON`,
      )
    }
  }

  /** A binary body, read as it arrives (`onProgress(received, total)`), at most `maxBytes`. */
  async bytes(
    path: string,
    opts: { maxBytes: number; onProgress?: (received: number, total: number | undefined) => void },
  ): Promise<Uint8Array> {
    const res = await this.request(path)
    const length = Number(res.headers.get('content-length') ?? Number.NaN)
    const total = Number.isFinite(length) ? length : undefined
    if (total !== undefined && total > opts.maxBytes) {
      throw new ApiRequestError(
        res.status,
        'TooLarge',
        `the node's answer is ${total} bytes: more than ${opts.maxBytes}`,
      )
    }
    const chunks: Uint8Array[] = []
    let received = 0
    if (res.body !== null) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength
        if (received > opts.maxBytes) {
          throw new ApiRequestError(res.status, 'TooLarge', `the node's answer is more than ${opts.maxBytes} bytes`)
        }
        chunks.push(chunk)
        opts.onProgress?.(received, total)
      }
    }
    return Buffer.concat(chunks)
  }

  /** POSTs a binary body (`application/octet-stream`), reporting bytes sent; answers JSON. */
  async upload(path: string, body: Uint8Array, onProgress?: (sent: number, total: number) => void): Promise<unknown> {
    const total = body.byteLength
    let stream: ReadableStream<Uint8Array> | Uint8Array = body
    if (onProgress !== undefined) {
      let offset = 0
      const chunk = 256 * 1024
      stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= total) {
            controller.close()
            return
          }
          const next = body.subarray(offset, Math.min(total, offset + chunk))
          offset += next.byteLength
          controller.enqueue(next)
          onProgress(offset, total)
        },
      })
    }
    return this.json(path, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: stream as unknown as NonNullable<RequestInit['body']>,
      ...(onProgress !== undefined ? { duplex: 'half' } : {}),
    } as RequestInit)
  }
}
