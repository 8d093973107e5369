// The node's live feed (`ws(s)://<this host>/api/feed`), contract version 1: the server sends
// `hello` first; the client subscribes; the server sends `event`s
// (`{ type: 'event', channel, seq, ts, data: { snapshot } | { event } | { alert } }`) and `error`s.
// Reconnects with backoff (1 s doubling to 30 s) and resubscribes; reports its state to the page.

/** The channels the dashboard follows. */
export const CHANNELS = ['peers', 'metrics', 'training', 'health', 'alerts', 'chain']

/** Largest frame the page reads (a bigger one is dropped). */
const MAX_FRAME_CHARS = 8 * 1024 * 1024

const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Follow the feed. `onState(state)`: `'connecting'`, `'live'` (hello received, subscribed) or
 * `'down'` (the socket failed or closed: the page polls). `onMessage({ channel, seq, ts, data })`
 * for each well-formed event; `onError({ error, message })` for the server's error messages.
 */
export function connectFeed({ onState, onMessage, onError, channels = CHANNELS }) {
  let ws
  let retryMs = 1000
  let timer
  let stopped = false
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/feed`

  const schedule = () => {
    if (stopped || timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      open()
    }, retryMs)
    retryMs = Math.min(30_000, retryMs * 2)
  }

  const open = () => {
    onState('connecting')
    try {
      ws = new WebSocket(url)
    } catch {
      onState('down')
      schedule()
      return
    }
    let hello = false
    ws.addEventListener('message', (e) => {
      if (typeof e.data !== 'string' || e.data.length > MAX_FRAME_CHARS) return
      let msg
      try {
        msg = JSON.parse(e.data)
      } catch {
        return
      }
      if (!isObj(msg)) return
      if (msg.type === 'hello') {
        hello = true
        retryMs = 1000
        ws.send(JSON.stringify({ type: 'subscribe', channels }))
        onState('live')
      } else if (msg.type === 'event' && hello) {
        if (typeof msg.channel !== 'string' || !channels.includes(msg.channel) || !isObj(msg.data)) return
        onMessage({ channel: msg.channel, seq: msg.seq, ts: msg.ts, data: msg.data })
      } else if (msg.type === 'error') {
        onError({
          error: typeof msg.error === 'string' ? msg.error.slice(0, 80) : 'Error',
          message: typeof msg.message === 'string' ? msg.message.slice(0, 500) : '',
        })
      }
    })
    ws.addEventListener('close', () => {
      onState('down')
      schedule()
    })
  }

  open()
  return {
    close() {
      stopped = true
      clearTimeout(timer)
      ws?.close()
    },
  }
}
