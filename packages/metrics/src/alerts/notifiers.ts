/** Where alert notices go: the log, a webhook. The engine's own events feed a live view. */
import type { AlertNotice, Notifier } from './engine.js'

/** A logger with the levels the node's logger has. */
export interface AlertLogger {
  warn(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Log each notice: firing critical as error, firing others as warn, resolved as info. */
export function logNotifier(log: AlertLogger): Notifier {
  return (n: AlertNotice) => {
    const fields = { rule: n.rule, severity: n.severity, ...(n.value !== undefined ? { value: n.value } : {}) }
    if (n.state === 'resolved') log.info(`alert resolved: ${n.message}`, fields)
    else if (n.severity === 'critical') log.error(`alert firing: ${n.message}`, fields)
    else log.warn(`alert firing: ${n.message}`, fields)
  }
}

/** Options of {@link webhookNotifier}. */
export interface WebhookInit {
  url: string
  /** Default 5 s. */
  timeoutMs?: number
  headers?: Record<string, string>
}

/** The webhook answered with a status outside 2xx. */
export class WebhookError extends Error {
  static override readonly name = 'WebhookError'
  override name = 'WebhookError'
  constructor(readonly status: number) {
    super(`the webhook answered ${status}`)
  }
}

/** POST each notice as JSON to `url`. A failure rejects (the engine reports it as `notifier:error`). */
export function webhookNotifier(init: WebhookInit): Notifier {
  return async (n: AlertNotice) => {
    const res = await fetch(init.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: JSON.stringify(n),
      signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
    })
    await res.arrayBuffer()
    if (!res.ok) throw new WebhookError(res.status)
  }
}
