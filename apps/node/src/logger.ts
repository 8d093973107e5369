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

export function createLogger(options: {
  level: LogLevel
  json: boolean
  name?: string
  stream?: NodeJS.WritableStream
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
  return {
    error: (m, f) => log.error(f ?? {}, m),
    warn: (m, f) => log.warn(f ?? {}, m),
    info: (m, f) => log.info(f ?? {}, m),
    debug: (m, f) => log.debug(f ?? {}, m),
  }
}
