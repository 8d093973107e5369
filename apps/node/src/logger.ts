/** A small structured logger: levels, pretty lines for people, one JSON object per line with --json. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
const order: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  debug(msg: string, fields?: Record<string, unknown>): void
}

export function createLogger(options: {
  level: LogLevel
  json: boolean
  name?: string
  stream?: NodeJS.WritableStream
}): Logger {
  const out = options.stream ?? process.stderr
  const log = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void => {
    if (order[level] > order[options.level]) return
    if (options.json) {
      out.write(`${JSON.stringify({ t: new Date().toISOString(), level, name: options.name, msg, ...fields })}\n`)
    } else {
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')
      out.write(
        `${new Date().toISOString().slice(11, 23)} ${level.padEnd(5)} ${options.name ? `[${options.name}] ` : ''}${msg}${extra ? ` ${extra}` : ''}\n`,
      )
    }
  }
  return {
    error: (m, f) => log('error', m, f),
    warn: (m, f) => log('warn', m, f),
    info: (m, f) => log('info', m, f),
    debug: (m, f) => log('debug', m, f),
  }
}
