/**
 * Typed errors of the REST API: every failure answers `{ error: { name, message } }` with a 4xx/5xx
 * status, never a stack trace. A route throws {@link ApiError}; fastify's own errors (body too
 * large, validation, rate limit) are mapped to names here.
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'

/** An API failure: HTTP status, a stable name clients switch on, and a message for people. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message)
  }
}

/** The names fastify's own 4xx errors answer with. */
const FASTIFY_ERRORS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PayloadTooLarge',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UnsupportedMediaType',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'InvalidJson',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'InvalidContentLength',
}

/** The body of an error: `{ error: { name, message } }` (under `/api`); `{ error, message }` on the unprefixed legacy routes. */
export function errorBody(url: string, name: string, message: string): unknown {
  return url.startsWith('/api/') || url === '/api' ? { error: { name, message } } : { error: name, message }
}

/** Every path of a validation issue, readable: `rounds: Too small…; initialModel: …`. */
function issuesText(validation: ReadonlyArray<{ instancePath?: string; message?: string; params?: unknown }>): string {
  return validation
    .map((v) => {
      const issue = (v.params as { issue?: { path?: PropertyKey[] } } | undefined)?.issue
      const path = issue?.path?.map(String).join('.') ?? v.instancePath?.replace(/^\//, '').replaceAll('/', '.') ?? ''
      return `${path || '(root)'}: ${v.message ?? 'invalid'}`
    })
    .join('; ')
}

/** The error handler of the API server. */
export function handleError(log: {
  error(msg: string, fields?: Record<string, unknown>): void
}): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (err, request, reply) => {
    const send = (status: number, name: string, message: string) =>
      reply
        .code(status)
        .type('application/json')
        .send(errorBody(request.url, name, message))
    if (err instanceof ApiError) return send(err.status, err.errorName, err.message)
    if (hasZodFastifySchemaValidationErrors(err)) {
      const config = request.routeOptions.config as { invalidName?: string } | undefined
      const where = err.validationContext === 'body' ? '' : `${err.validationContext} `
      return send(400, config?.invalidName ?? 'InvalidRequest', `${where}${issuesText(err.validation)}`)
    }
    const status = err.statusCode ?? 500
    if (status === 429) return send(429, 'RateLimited', err.message)
    if (status >= 400 && status < 500) {
      return send(status, FASTIFY_ERRORS[err.code] ?? 'BadRequest', err.message)
    }
    log.error('API error', { error: err.name, message: err.message, url: request.url })
    return send(500, err.name === 'Error' || err.name === 'FastifyError' ? 'InternalError' : err.name, err.message)
  }
}
