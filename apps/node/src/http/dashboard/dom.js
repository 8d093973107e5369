// DOM helpers and formatting for the dashboard. Text always goes in as textContent (peer-provided
// strings are never parsed as HTML); SVG is built with createElementNS and presentation attributes.

const SVG_NS = 'http://www.w3.org/2000/svg'

/** An HTML element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'text') node.textContent = String(v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) {
    if (c === undefined || c === null) continue
    node.append(typeof c === 'string' ? document.createTextNode(c) : c)
  }
  return node
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue
    if (k === 'text') node.textContent = String(v)
    else node.setAttribute(k, String(v))
  }
  return node
}

/** Remove every child of `node`. */
export function clear(node) {
  while (node.firstChild) node.firstChild.remove()
}

/** Set an element's text by id (nothing when absent). */
export function setText(id, text) {
  const node = document.getElementById(id)
  if (node) node.textContent = text
}

export const isNum = (v) => typeof v === 'number' && Number.isFinite(v)
export const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v)
export const str = (v, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '')

/** A peer id shortened to its last 8 characters (the whole id goes in a title). */
export const shortId = (id) => {
  const s = str(id, 200)
  return s.length > 12 ? `…${s.slice(-8)}` : s
}

/** Bytes as B / KB / MB / GB (decimal). */
export function bytes(n) {
  if (!isNum(n)) return '—'
  const a = Math.abs(n)
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)} KB`
  return `${Math.round(n)} B`
}

/** A share 0–1 as a percentage. */
export const pct = (v, digits = 1) => (isNum(v) ? `${(100 * v).toFixed(digits)} %` : '—')

/** Milliseconds, rounded. */
export const ms = (v) => (isNum(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '—')

/** A duration in seconds as `1 h 2 min`, `3 min 4 s` or `5 s`. */
export function duration(s) {
  if (!isNum(s) || s < 0) return '—'
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = Math.floor(s % 60)
  if (h > 0) return `${h} h ${m} min`
  if (m > 0) return `${m} min ${sec} s`
  return `${sec} s`
}

/** A timestamp (ms) as the local time of day. */
export const clock = (t) => (isNum(t) ? new Date(t).toLocaleTimeString() : '—')
