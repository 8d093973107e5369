// Small inline-SVG charts for the dashboard: a line chart (accuracy, loss per round) and a grouped
// bar chart (bytes per round). No dependencies; colours come from classes in style.css.
import { clear, isNum, svg } from './dom.js'

const W = 480
const H = 180
const M = { top: 12, right: 12, bottom: 26, left: 52 }

function frame(node, label) {
  clear(node)
  node.setAttribute('viewBox', `0 0 ${W} ${H}`)
  node.setAttribute('role', 'img')
  node.setAttribute('aria-label', label)
  node.append(svg('title', { text: label }))
}

function ticks(min, max, n) {
  if (max === min) return [min]
  const out = []
  for (let i = 0; i <= n; i++) out.push(min + ((max - min) * i) / n)
  return out
}

function axes(node, { xMin, xMax, yMin, yMax, yFormat, xTicks }) {
  const sx = (x) => M.left + ((x - xMin) / (xMax - xMin || 1)) * (W - M.left - M.right)
  const sy = (y) => H - M.bottom - ((y - yMin) / (yMax - yMin || 1)) * (H - M.top - M.bottom)
  const g = svg('g', { class: 'axes' })
  for (const y of ticks(yMin, yMax, 4)) {
    g.append(svg('line', { x1: M.left, x2: W - M.right, y1: sy(y), y2: sy(y), class: 'grid' }))
    g.append(svg('text', { x: M.left - 6, y: sy(y) + 4, 'text-anchor': 'end', class: 'tick', text: yFormat(y) }))
  }
  for (const x of xTicks) {
    g.append(svg('text', { x: sx(x), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick', text: String(x) }))
  }
  g.append(svg('text', { x: W - M.right, y: H - 2, 'text-anchor': 'end', class: 'axis-label', text: 'round' }))
  node.append(g)
  return { sx, sy }
}

/** Round numbers to label: at most ~8, always the first and last. */
function roundTicks(xs) {
  if (xs.length <= 8) return xs
  const step = Math.ceil(xs.length / 8)
  const out = xs.filter((_, i) => i % step === 0)
  if (out.at(-1) !== xs.at(-1)) out.push(xs.at(-1))
  return out
}

/**
 * A line chart. `series`: `[{ label, cls, points: [{ x, y }] }]` (non-finite points are left out).
 * The svg gets `data-points` (points of the first series) so tests and tools can read its state.
 */
export function lineChart(node, { label, series, yMin, yMax, yFormat = (v) => v.toFixed(2) }) {
  const clean = series.map((s) => ({ ...s, points: s.points.filter((p) => isNum(p.x) && isNum(p.y)) }))
  frame(node, label)
  node.dataset.points = String(clean[0]?.points.length ?? 0)
  const all = clean.flatMap((s) => s.points)
  if (all.length === 0) {
    node.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'none', text: 'no data yet' }))
    return
  }
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b)
  let lo = yMin ?? Math.min(...all.map((p) => p.y))
  let hi = yMax ?? Math.max(...all.map((p) => p.y))
  if (hi === lo) {
    hi += 0.5
    lo -= 0.5
  }
  const { sx, sy } = axes(node, {
    xMin: xs[0],
    xMax: xs.length > 1 ? xs.at(-1) : xs[0] + 1,
    yMin: lo,
    yMax: hi,
    yFormat,
    xTicks: roundTicks(xs),
  })
  for (const s of clean) {
    if (s.points.length === 0) continue
    const g = svg('g', { class: `series ${s.cls}` })
    g.append(
      svg('polyline', {
        points: s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' '),
        fill: 'none',
      }),
    )
    for (const p of s.points) {
      const dot = svg('circle', { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3 })
      dot.append(svg('title', { text: `${s.label}, round ${p.x}: ${yFormat(p.y)}` }))
      g.append(dot)
    }
    node.append(g)
  }
}

/**
 * A grouped bar chart. `groups`: `[{ x, bars: [{ cls, label, v }] }]`; missing values are left out.
 */
export function barChart(node, { label, groups, yFormat }) {
  frame(node, label)
  const values = groups.flatMap((g) => g.bars.map((b) => b.v)).filter(isNum)
  node.dataset.points = String(groups.length)
  if (values.length === 0) {
    node.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'none', text: 'no data yet' }))
    return
  }
  const hi = Math.max(...values, 1)
  const xs = groups.map((g) => g.x)
  const n = groups.length
  const band = (W - M.left - M.right) / n
  const { sy } = axes(node, { xMin: 0, xMax: 1, yMin: 0, yMax: hi, yFormat, xTicks: [] })
  const labels = new Set(roundTicks(xs))
  groups.forEach((grp, i) => {
    const k = grp.bars.length
    const bw = Math.max(1, (band * 0.8) / k)
    const x0 = M.left + i * band + band * 0.1
    grp.bars.forEach((b, j) => {
      if (!isNum(b.v)) return
      const rect = svg('rect', {
        x: (x0 + j * bw).toFixed(1),
        y: sy(b.v).toFixed(1),
        width: bw.toFixed(1),
        height: Math.max(0, H - M.bottom - sy(b.v)).toFixed(1),
        class: `bar ${b.cls}`,
      })
      rect.append(svg('title', { text: `round ${grp.x}, ${b.label}: ${yFormat(b.v)}` }))
      node.append(rect)
    })
    if (labels.has(grp.x)) {
      node.append(
        svg('text', {
          x: (M.left + (i + 0.5) * band).toFixed(1),
          y: H - M.bottom + 16,
          'text-anchor': 'middle',
          class: 'tick',
          text: String(grp.x),
        }),
      )
    }
  })
}

/** A star graph: this node in the middle, peers around it (authenticated ones solid). */
export function peerGraph(node, { self, peers }) {
  clear(node)
  const c = 100
  const r = 70
  node.append(svg('title', { text: `this node and ${peers.length} connected peers` }))
  peers.forEach((p, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, peers.length) - Math.PI / 2
    const x = c + r * Math.cos(a)
    const y = c + r * Math.sin(a)
    node.append(svg('line', { x1: c, y1: c, x2: x.toFixed(1), y2: y.toFixed(1), class: 'edge' }))
    const dot = svg('circle', {
      cx: x.toFixed(1),
      cy: y.toFixed(1),
      r: 9,
      class: p.authenticated ? 'peer auth' : 'peer',
    })
    dot.append(svg('title', { text: `${p.id}${isNum(p.rtt) ? ` · ${Math.round(p.rtt)} ms` : ''}` }))
    node.append(dot)
    node.append(
      svg('text', {
        x: x.toFixed(1),
        y: (y + (y > c ? 22 : -13)).toFixed(1),
        'text-anchor': 'middle',
        class: 'tick',
        text: p.short,
      }),
    )
  })
  const me = svg('circle', { cx: c, cy: c, r: 12, class: 'self' })
  me.append(svg('title', { text: `this node ${self}` }))
  node.append(me)
}
