/**
 * The node's REST API on fastify, with zod schemas (`fastify-type-provider-zod`) that validate
 * requests and make the OpenAPI document (`GET /openapi.json`, a docs page at `/docs`, served
 * from this node: nothing loads from the internet).
 *
 * Routes: the seed's under `/api` (`/api/staking/stake`, `/api/training/status`,
 * `/api/training/control`, `/api/node/health`, `/api/node/resources`, `/api/model/update`,
 * `/api/metrics/cluster`, `/api/node/peer-exchange`, `/api/metrics/system|network|training`),
 * the node's own (`/api/status`, `/api/peers`, `/api/jobs`, `/api/models`), and `GET /metrics`
 * (Prometheus). The unprefixed routes of the earlier API (`/status`, `/peers`, `/jobs`,
 * `/models/…`, `/metrics/cluster`) answer too, with their error bodies (`{ error, message }`).
 *
 * Security: every request names this server in `Host` (403 `ForbiddenHost`: DNS rebinding) and,
 * if it has an `Origin`, this server's (403 `ForbiddenOrigin`); every state-changing request
 * needs `Authorization: Bearer <token>` (401), the token in `<dataDir>/api-token` (0600); a body
 * must be `application/json` (415; the ONNX upload: `application/octet-stream`), at most 1 MiB,
 * nested at most {@link MAX_BODY_DEPTH} levels; requests are rate-limited (429); failures answer
 * `{ error: { name, message } }`, never a stack trace. It listens on 127.0.0.1 unless configured.
 * @module
 */
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { jsonNestingDepth } from '@vain/net/wire'
import Fastify from 'fastify'
import {
  createSerializerCompiler,
  jsonSchemaTransform,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import { dashboardRoutes } from './dashboard.js'
import { ApiError, errorBody, handleError } from './errors.js'
import { feedRoutes } from './feed.js'
import { allowedHosts, guardRequest } from './guard.js'
import type { ApiApp, ApiParts } from './parts.js'
import { jobRoutes } from './routes/jobs.js'
import { metricsRoutes, prometheusRoute } from './routes/metrics.js'
import { modelRoutes } from './routes/models.js'
import { nodeRoutes } from './routes/node.js'

/** Deepest JSON nesting of a request body (a job spec nests a few levels, its free-form fields 16 more). */
export const MAX_BODY_DEPTH = 64
/** Largest JSON body. */
export const MAX_JSON_BYTES = 1024 * 1024

/** JSON out: bytes as hex, bigints as decimal strings. */
const replacer = (_key: string, value: unknown): unknown =>
  value instanceof Uint8Array
    ? Buffer.from(value).toString('hex')
    : typeof value === 'bigint'
      ? value.toString()
      : value

/** Options of {@link createApiServer}. */
export interface ApiServerOptions extends ApiParts {
  /** Port (0: any free one). */
  port: number
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string
  /** More names requests may use in `Host` (e.g. the machine's name, when `host` is not loopback). */
  allowedHosts?: string[]
  /** Requests per client per window. Default 600 a minute. */
  rateLimit?: { max: number; timeWindowMs: number }
}

/** A listening API server. */
export interface ApiServer {
  url: string
  /** The fastify instance (`inject`, the routes). */
  app: ApiApp
  close(): Promise<void>
}

/** Build the API (not listening yet); `hosts` are the `Host` values it answers to. */
export async function buildApi(opts: ApiServerOptions, hosts: () => ReadonlySet<string>): Promise<ApiApp> {
  if (opts.token.length < 32) throw new Error('the API token must be at least 32 characters')
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_JSON_BYTES,
    forceCloseConnections: true,
  }).withTypeProvider<ZodTypeProvider>()
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(createSerializerCompiler({ replacer }))
  app.setReplySerializer((payload) => JSON.stringify(payload, replacer))
  app.setErrorHandler(handleError(opts.log))
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/json')
      .send(errorBody(request.url, 'NotFound', `${request.method} ${request.url.split('?')[0]} is not an API route`)),
  )
  // JSON bodies: depth checked before parsing (a deep body must not reach the parser or zod)
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(null, undefined)
    if (jsonNestingDepth(text, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      return done(new ApiError(400, 'TooDeep', `the body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined)
    }
    try {
      done(null, JSON.parse(text))
    } catch {
      done(new ApiError(400, 'InvalidJson', 'the body is not valid JSON'), undefined)
    }
  })
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  )
  // anything else reaches the guard (415 after the token check), not fastify's parser error
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined))
  await app.register(rateLimit, {
    max: opts.rateLimit?.max ?? 600,
    timeWindow: opts.rateLimit?.timeWindowMs ?? 60_000,
    errorResponseBuilder: (request, context) => {
      const e = new ApiError(429, 'RateLimited', `too many requests: at most ${context.max} per ${context.after}`)
      ;(e as unknown as { statusCode: number }).statusCode = 429
      void request
      return e
    },
  })
  app.addHook('onRequest', async (request) => guardRequest(request, hosts(), opts.token))
  await app.register(swagger, {
    openapi: {
      info: { title: 'vAIn node API', version: '1', description: 'The REST API of a vAIn node' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The token in <dataDir>/api-token' },
        },
      },
    },
    transform: jsonSchemaTransform,
  })
  // swagger-ui's assets come from the package (no CDN); its validator badge is off (validatorUrl null)
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  // the OpenAPI document says which routes need the token: every one that is not a GET
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat()
    if (route.schema !== undefined && !methods.every((m) => m === 'GET' || m === 'HEAD')) {
      route.schema = { ...route.schema, security: [{ bearer: [] }] }
    }
  })
  prometheusRoute(app, opts)
  // the live feed, GET /api/feed (a WebSocket: feed.ts)
  await feedRoutes(app, opts)
  // the dashboard page at `/` and its files under `/dashboard/` (dashboard.ts)
  await dashboardRoutes(app)
  await app.register(
    async (api) => {
      const a = api as unknown as ApiApp
      nodeRoutes(a, opts, { hide: false })
      jobRoutes(a, opts, { hide: false })
      modelRoutes(a, opts, { hide: false })
      metricsRoutes(a, opts, { hide: false })
    },
    { prefix: '/api' },
  )
  // the earlier API's paths (the CLI's), left out of the OpenAPI document
  nodeRoutes(app, opts, { hide: true })
  jobRoutes(app, opts, { hide: true })
  modelRoutes(app, opts, { hide: true })
  metricsRoutes(app, opts, { hide: true })
  return app
}

/** Build the API and listen (on `127.0.0.1` unless `host` says otherwise). */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1'
  let hosts: ReadonlySet<string> = new Set()
  const app = await buildApi(opts, () => hosts)
  await app.listen({ port: opts.port, host })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : opts.port
  hosts = allowedHosts(host, port, opts.allowedHosts)
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${shown}:${port}`,
    app,
    close: () => app.close(),
  }
}
