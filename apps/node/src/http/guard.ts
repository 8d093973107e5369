/**
 * What a web page (or a rebound DNS name) could send to a node's API, refused before a route runs:
 * a `Host` that is not this server (403 `ForbiddenHost`, DNS rebinding), an `Origin` that is not
 * this server (403 `ForbiddenOrigin`), a state-changing request without the node's bearer token
 * (401 `TokenRequired` / `InvalidToken`), a body that is not the route's content type (415).
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { ApiError } from './errors.js'

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]']

/** The hosts (`name:port`, lowercase) a request may name, for a server bound to `bindHost:port`. */
export function allowedHosts(bindHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const names = new Set([...LOOPBACK_HOSTS, ...extra.map((h) => h.toLowerCase())])
  if (bindHost !== '0.0.0.0' && bindHost !== '::') names.add(bindHost.includes(':') ? `[${bindHost}]` : bindHost)
  const hosts = new Set<string>()
  for (const n of names) {
    hosts.add(`${n}:${port}`)
    if (port === 80) hosts.add(n)
  }
  return hosts
}

/** Constant-time comparison of a presented token with the node's (over their digests: any length). */
export function tokenMatches(presented: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(presented), digest(token)) && presented.length === token.length
}

/** File name of the token, for messages. */
const TOKEN_HINT = "'Authorization: Bearer <token>' with the node's token (in <dataDir>/api-token)"

/** Route config: the content type a route's body must have (default `application/json`). */
export interface RouteGuardConfig {
  contentType?: string
  /** Name of the 400 error for an invalid body (default `InvalidRequest`). */
  invalidName?: string
}

/** Check one request: see the module comment. Throws {@link ApiError}. */
export function guardRequest(request: FastifyRequest, hosts: ReadonlySet<string>, token: string): void {
  const host = request.headers.host?.trim().toLowerCase()
  if (host === undefined || !hosts.has(host)) {
    throw new ApiError(403, 'ForbiddenHost', `the API answers only as ${[...hosts].join(', ')}`)
  }
  const origin = request.headers.origin
  if (origin !== undefined && origin !== 'null') {
    let originHost: string | undefined
    try {
      const u = new URL(origin)
      originHost = u.protocol === 'http:' ? u.host.toLowerCase() : undefined
    } catch {
      originHost = undefined
    }
    if (originHost === undefined || !hosts.has(/:\d+$/.test(originHost) ? originHost : `${originHost}:80`)) {
      throw new ApiError(
        403,
        'ForbiddenOrigin',
        `requests from ${origin} are refused: only this node's own pages may call it`,
      )
    }
  } else if (origin === 'null') {
    throw new ApiError(403, 'ForbiddenOrigin', 'requests from an opaque origin are refused')
  }
  const method = request.method
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return
  const auth = request.headers.authorization
  const presented = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined
  if (presented === undefined || !tokenMatches(presented, token)) {
    throw new ApiError(401, presented === undefined ? 'TokenRequired' : 'InvalidToken', `${method} needs ${TOKEN_HINT}`)
  }
  const hasBody =
    method === 'POST' ||
    method === 'PUT' ||
    method === 'PATCH' ||
    request.headers['transfer-encoding'] !== undefined ||
    Number(request.headers['content-length'] ?? 0) > 0
  const expected = (request.routeOptions.config as RouteGuardConfig | undefined)?.contentType ?? 'application/json'
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (hasBody && type !== expected) {
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `${method} ${request.url.split('?')[0]} bodies must be Content-Type: ${expected}`,
    )
  }
}
