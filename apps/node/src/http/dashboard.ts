/**
 * The dashboard: a web page the node serves at `/` — peers, training curves, resources, alerts,
 * stake, tier and rewards, live over the feed (`/api/feed`), with nothing to build. Static files
 * (HTML, ES modules, CSS, an SVG icon) in {@link DASHBOARD_DIR}, read once when the routes are
 * registered, served from memory under a strict Content-Security-Policy ({@link DASHBOARD_CSP}:
 * scripts and styles from this node only, no inline script, nothing from another machine).
 *
 * Where the files are: `./dashboard/` next to this module, resolved from `import.meta.url`, so the
 * page is found when the node runs from source (tsx) and from a build, as long as the build copies
 * {@link DASHBOARD_DIR} (every file in {@link DASHBOARD_FILES}) next to the bundled module: a
 * bundler's copy step reads the source path from {@link DASHBOARD_DIR}. A missing file fails at
 * start (a clear error), not at a user's first request.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ApiApp } from './parts.js'

/** Absolute path of the dashboard's static files (`src/http/dashboard/` in the source tree). */
export const DASHBOARD_DIR: string = fileURLToPath(new URL('./dashboard/', import.meta.url))

/** The files of the dashboard and their content types: nothing else in the folder is served. */
export const DASHBOARD_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'feed.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
}

/**
 * The page's Content-Security-Policy: everything from this node only (`'self'`), the feed's
 * WebSocket, no inline script or style, no plugins, no framing, no form posts.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers on every dashboard response. */
const HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const

/** Reads the dashboard's files (all of {@link DASHBOARD_FILES}) from `dir`. */
export async function loadDashboard(dir: string = DASHBOARD_DIR): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (const name of Object.keys(DASHBOARD_FILES)) {
    try {
      files.set(name, await readFile(join(dir, name)))
    } catch (err) {
      throw new Error(
        `the dashboard's ${name} is missing in ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): a build must copy DASHBOARD_DIR next to the bundle`,
      )
    }
  }
  return files
}

/**
 * Serve the dashboard: `GET /` (the page) and `GET /dashboard/<file>` (its modules, style, icon),
 * left out of the OpenAPI document. GETs: no token (the API's guard still checks `Host` and
 * `Origin`); the page reads the API with same-origin GETs and the feed, and changes nothing.
 */
export async function dashboardRoutes(app: ApiApp, dir: string = DASHBOARD_DIR): Promise<void> {
  const files = await loadDashboard(dir)
  const send = (name: string) => {
    const body = files.get(name) as Buffer
    const type = DASHBOARD_FILES[name] as string
    return async (_request: FastifyRequest, reply: FastifyReply) => reply.headers(HEADERS).type(type).send(body)
  }
  app.get('/', { schema: { hide: true } }, send('index.html'))
  for (const name of Object.keys(DASHBOARD_FILES)) {
    app.get(`/dashboard/${name}`, { schema: { hide: true } }, send(name))
  }
}
