/**
 * The node's logger: a thin wrapper over pino. One JSON object per line with `--json`
 * (`{"level":"info","t":"2025-…Z","name":"vain","msg":"…",…fields}`), else a readable line for
 * people (`12:03:04.567 info  [vain] msg key=value …`).
 */
import { type DestinationStream, pino } from 'pino'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  debug(msg: string, fields?: Record<string, unknown>): void
}

/** pino's JSON lines turned into readable lines, written to `out` at once (no worker thread). */
function readable(out: NodeJS.WritableStream, name: string | undefined): DestinationStream {
  return {
    write(line: string) {
      const { level, t, msg, ...fields } = JSON.parse(line) as Record<string, unknown>
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
      out.write(
        `${String(t).slice(11, 23)} ${String(level).padEnd(5)} ${name ? `[${name}] ` : ''}${msg}${extra ? ` ${extra}` : ''}\n`,
      )
    },
  }
}

/** How often one warning or error message is written per window; the rest are counted. */
export interface LogRateLimit {
  /** Lines of one message per window. Default 5. */
  perWindow: number
  /** Window (ms). Default 10,000. */
  windowMs: number
}

/**
 * Repeated warnings and errors (the same message, whatever its fields) are written at most
 * `perWindow` times a window; when a window with suppressed lines ends, the next line of that
 * message carries `suppressed: N`. A peer that makes the node warn in a loop cannot flood the log.
 */
function rateLimited(
  write: (msg: string, fields: Record<string, unknown>) => void,
  limit: LogRateLimit,
  now: () => number,
): (msg: string, fields?: Record<string, unknown>) => void {
  const seen = new Map<string, { start: number; n: number; suppressed: number }>()
  return (msg, fields = {}) => {
    const t = now()
    let e = seen.get(msg)
    if (e === undefined || t - e.start >= limit.windowMs) {
      const suppressed = e?.suppressed ?? 0
      e = { start: t, n: 0, suppressed: 0 }
      seen.set(msg, e)
      if (seen.size > 1_000) seen.delete(seen.keys().next().value as string)
      if (suppressed > 0) fields = { ...fields, suppressed }
    }
    if (e.n >= limit.perWindow) {
      e.suppressed++
      return
    }
    e.n++
    write(msg, fields)
  }
}

export function createLogger(options: {
  level: LogLevel
  json: boolean
  name?: string
  stream?: NodeJS.WritableStream
  rateLimit?: Partial<LogRateLimit>
  now?: () => number
}): Logger {
  const out = options.stream ?? process.stderr
  const log = pino(
    {
      level: options.level,
      // readable lines show the name themselves (a field may be called `name` too)
      base: options.name === undefined || !options.json ? {} : { name: options.name },
      timestamp: () => `,"t":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.json ? (out as DestinationStream) : readable(out, options.name),
  )
  const limit = { perWindow: 5, windowMs: 10_000, ...options.rateLimit }
  const now = options.now ?? Date.now
  return {
    error: rateLimited((m, f) => log.error(f, m), limit, now),
    warn: rateLimited((m, f) => log.warn(f, m), limit, now),
    info: (m, f) => log.info(f ?? {}, m),
    debug: (m, f) => log.debug(f ?? {}, m),
  }
}
