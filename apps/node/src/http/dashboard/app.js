// The vAIn node dashboard: REST snapshots on load, then live over the feed (`/api/feed`), polling
// the REST API every 2 s whenever the feed is not live. Every string from the node or its peers is
// set as textContent or an attribute value, never parsed as HTML.
import { barChart, lineChart, peerGraph } from './charts.js'
import { bytes, clear, clock, duration, el, isNum, isObj, ms, pct, setText, shortId, str } from './dom.js'
import { connectFeed } from './feed.js'

const POLL_MS = 2000
const MAX_ALERTS = 50
const MAX_ROUNDS_DRAWN = 500

/** What the page knows: each member is the JSON body of its REST endpoint (or the feed's snapshot). */
const state = {
  status: undefined, // GET /api/status
  peers: undefined, // GET /api/peers
  training: undefined, // GET /api/metrics/training
  system: undefined, // GET /api/metrics/system
  health: undefined, // GET /api/node/health
  jobs: undefined, // GET /api/jobs
  chain: undefined, // the `chain` member of GET /api/status (null: no chain); undefined: not known yet
  alerts: [], // the feed's alerts, newest first
  updated: undefined,
  via: 'REST',
}

let feedState = 'connecting'
let restOk // undefined until the first snapshot: true when the last REST round worked

/** Each panel's endpoint and where its body goes. */
const ENDPOINTS = {
  status: '/api/status',
  peers: '/api/peers',
  training: '/api/metrics/training',
  system: '/api/metrics/system',
  health: '/api/node/health',
  jobs: '/api/jobs',
}
/** Feed channel → state member. */
const CHANNEL_STATE = { peers: 'peers', metrics: 'system', training: 'training', health: 'health', chain: 'chain' }
/** State member → the endpoint to read again after a discrete event. */
const STATE_ENDPOINT = { peers: 'peers', system: 'system', training: 'training', health: 'health', chain: 'status' }

async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return await res.json()
}

/** Valid enough to render: the shape of each endpoint's body. */
const VALID = {
  status: (v) => isObj(v) && typeof v.peerId === 'string',
  peers: (v) => Array.isArray(v),
  training: (v) => isObj(v) && Array.isArray(v.jobs),
  system: (v) => isObj(v),
  health: (v) => isObj(v),
  jobs: (v) => Array.isArray(v),
  chain: (v) => v === null || isObj(v),
}

function accept(key, value) {
  if (!VALID[key]?.(value)) return false
  state[key] = value
  if (key === 'status') state.chain = isObj(value.chain) ? value.chain : null
  return true
}

/** Fetch some endpoints; true when all answered. */
async function refresh(keys) {
  const results = await Promise.allSettled(keys.map((k) => getJson(ENDPOINTS[k])))
  let ok = true
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') accept(keys[i], r.value)
    else ok = false
  })
  restOk = ok || results.some((r) => r.status === 'fulfilled')
  if (restOk) {
    state.updated = Date.now()
    if (feedState !== 'live') state.via = 'REST'
  }
  render()
  return ok
}

// ---------------------------------------------------------------- rendering

const safe = (name, fn) => {
  try {
    fn()
  } catch (err) {
    // a malformed snapshot must not take the rest of the page down
    console.warn(`dashboard: cannot render ${name}: ${err?.message ?? err}`)
  }
}

function render() {
  safe('header', renderHeader)
  safe('connection', renderConnection)
  safe('peers', renderPeers)
  safe('training', renderTraining)
  safe('resources', renderResources)
  safe('chain', renderChain)
  safe('alerts', renderAlerts)
}

function renderConnection() {
  const node = document.getElementById('conn')
  const s =
    feedState === 'live' ? 'live' : restOk === true ? 'polling' : restOk === undefined ? 'connecting' : 'offline'
  node.dataset.state = s
  node.textContent =
    s === 'live'
      ? 'live'
      : s === 'polling'
        ? `polling (every ${POLL_MS / 1000} s)`
        : s === 'offline'
          ? 'offline'
          : 'connecting'
  node.title =
    s === 'live'
      ? 'following the live feed'
      : s === 'polling'
        ? 'the live feed is not available: reading the REST API'
        : 'the node does not answer'
  setText('updated', state.updated === undefined ? 'no data yet' : `updated ${clock(state.updated)} (${state.via})`)
}

function renderHeader() {
  const s = state.status
  if (isObj(s)) {
    const id = document.getElementById('node-id')
    id.textContent = str(s.peerId)
    id.title = str(s.peerId)
    setText('node-roles', Array.isArray(s.roles) ? s.roles.map((r) => str(r, 40)).join(', ') || 'none' : '—')
    document.title = `vAIn node ${shortId(s.peerId)}`
  }
  const h = state.health
  if (isObj(h)) setText('node-uptime', duration(h.uptimeS))
}

function tierOf(p) {
  if (isNum(p.tier)) return String(p.tier)
  if (isObj(p.standing) && isNum(p.standing.tier)) return String(p.standing.tier)
  return '—'
}

function renderPeers() {
  const peers = state.peers
  if (!Array.isArray(peers)) return
  const rows = peers
    .filter(isObj)
    .slice(0, 500)
    .map((p) => {
      const session = isObj(p.session) ? p.session : {}
      return {
        id: str(p.peerId),
        authenticated: p.authenticated === true,
        rtt: session.rttMs,
        roles: Array.isArray(p.roles) ? p.roles.map((r) => str(r, 40)) : [],
        tier: tierOf(p),
        ok: session.requestsOk,
        failed: session.requestsFailed,
        rate: session.successRate,
        bytesIn: session.bytesIn,
        bytesOut: session.bytesOut,
      }
    })
    .sort((a, b) => Number(b.authenticated) - Number(a.authenticated) || a.id.localeCompare(b.id))
  const table = document.getElementById('peers')
  const body = table.tBodies[0]
  clear(body)
  for (const r of rows) {
    body.append(
      el(
        'tr',
        { 'data-peer': r.id },
        el('td', {}, el('code', { title: r.id, text: shortId(r.id) })),
        el('td', { class: r.authenticated ? 'yes' : 'no', text: r.authenticated ? 'yes' : 'no' }),
        el('td', { class: 'num', text: ms(r.rtt) }),
        el('td', { text: r.roles.join(', ') || '—' }),
        el('td', { class: 'num', text: r.tier }),
        el('td', {
          class: 'num',
          text: isNum(r.ok) ? `${r.ok}${isNum(r.failed) && r.failed > 0 ? ` (${r.failed} failed)` : ''}` : '—',
        }),
        el('td', { class: 'num', text: `${bytes(r.bytesIn)} / ${bytes(r.bytesOut)}` }),
      ),
    )
  }
  table.dataset.count = String(rows.length)
  document.getElementById('peers-empty').hidden = rows.length > 0
  const authed = rows.filter((r) => r.authenticated).length
  setText('peers-count', `${authed} authenticated of ${rows.length}`)
  const h = state.health
  setText(
    'peers-summary',
    isObj(h)
      ? `RTT median ${ms(h.rttMedianMs)}, p95 ${ms(h.rttP95Ms)} · success ${pct(h.successRate)} · in ${bytes(h.bytesIn)}, out ${bytes(h.bytesOut)} · known ${isNum(h.knownPeers) ? h.knownPeers : '—'}, denied ${isNum(h.deniedPeers) ? h.deniedPeers : '—'}`
      : '',
  )
  peerGraph(document.getElementById('peers-graph'), {
    self: isObj(state.status) ? str(state.status.peerId) : '',
    peers: rows.slice(0, 24).map((r) => ({ ...r, short: shortId(r.id) })),
  })
}

function chartBox(title, kind) {
  const chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  chart.setAttribute('class', 'chart')
  chart.dataset.chart = kind
  return { box: el('figure', { class: 'chart-box' }, el('figcaption', { text: title }), chart), chart }
}

function renderJob(job) {
  const id = str(job.jobId, 80)
  const name = str(job.name, 80) || 'job'
  const rounds = isNum(job.rounds) ? job.rounds : undefined
  const history = Array.isArray(job.history) ? job.history.filter(isObj).slice(-MAX_ROUNDS_DRAWN) : undefined
  const done = history?.length ?? (isNum(job.roundsCompleted) ? job.roundsCompleted : 0)
  const card = el(
    'article',
    { class: 'job', 'data-job': id },
    el(
      'h3',
      {},
      `${name} `,
      el('code', { title: id, text: id.slice(0, 12) }),
      el('span', { class: `badge state-${str(job.state, 20)}`, text: str(job.state, 20) || 'unknown' }),
    ),
    el('p', {
      class: 'summary',
      text: `${done} round${done === 1 ? '' : 's'} completed${rounds !== undefined ? ` of ${rounds}` : ''}${isNum(job.attempt) && job.attempt > 0 ? ` · attempt ${job.attempt + 1}` : ''}`,
    }),
  )
  if (history === undefined || history.length === 0) {
    card.append(el('p', { class: 'empty no-rounds', text: 'no rounds yet' }))
    return card
  }
  const x = (h) => (isNum(h.round) ? h.round + 1 : undefined)
  const charts = el('div', { class: 'charts' })
  const acc = chartBox('Accuracy per round', 'accuracy')
  const loss = chartBox('Loss per round', 'loss')
  const traffic = chartBox('Bytes per round (up / down)', 'bytes')
  charts.append(acc.box, loss.box, traffic.box)
  card.append(charts)
  lineChart(acc.chart, {
    label: 'accuracy per round',
    series: [{ label: 'accuracy', cls: 'accuracy', points: history.map((h) => ({ x: x(h), y: h.accuracy })) }],
    yMin: 0,
    yMax: 1,
    yFormat: (v) => `${(100 * v).toFixed(0)} %`,
  })
  lineChart(loss.chart, {
    label: 'loss per round',
    series: [{ label: 'loss', cls: 'loss', points: history.map((h) => ({ x: x(h), y: h.loss })) }],
    yMin: 0,
    yFormat: (v) => v.toFixed(2),
  })
  barChart(traffic.chart, {
    label: 'bytes per round, uploaded and downloaded',
    groups: history.map((h) => ({
      x: x(h),
      bars: [
        { cls: 'up', label: 'up', v: h.bytesUp },
        { cls: 'down', label: 'down', v: h.bytesDown },
      ],
    })),
    yFormat: bytes,
  })
  const last = history.at(-1)
  const contributions = history.map((h) => (isNum(h.contributions) ? h.contributions : '?')).slice(-20)
  card.append(
    el('p', {
      class: 'summary',
      text: `last round ${x(last) ?? '?'}${isNum(last.accuracy) ? ` · accuracy ${pct(last.accuracy)}` : ''}${isNum(last.loss) ? ` · loss ${last.loss.toFixed(3)}` : ''}${isNum(last.at ?? last.completedAt) ? ` · at ${clock(last.at ?? last.completedAt)}` : ''} · contributions per round: ${contributions.join(' ')}`,
    }),
  )
  return card
}

function renderTraining() {
  const t = state.training
  if (!isObj(t) || !Array.isArray(t.jobs)) return
  const jobs = t.jobs.filter((j) => isObj(j) && typeof j.jobId === 'string').slice(0, 20)
  const box = document.getElementById('jobs')
  clear(box)
  for (const job of jobs) box.append(renderJob(job))
  document.getElementById('jobs-empty').hidden = jobs.length > 0
}

function figure(list, label, value, meter) {
  const dd = el('dd', {}, value)
  if (meter !== undefined && isNum(meter)) {
    const m = el('meter', { min: 0, max: 1, low: 0.7, high: 0.9, optimum: 0, value: Math.min(1, Math.max(0, meter)) })
    m.setAttribute('aria-label', label)
    dd.prepend(m, ' ')
  }
  list.append(el('dt', { text: label }), dd)
}

function renderResources() {
  const s = state.system
  if (!isObj(s)) return
  const list = document.getElementById('resources')
  clear(list)
  const host = isObj(s.host) ? s.host : {}
  const proc = isObj(s.process) ? s.process : {}
  const res = isObj(s.resources) ? s.resources : {}
  const sample = isObj(res.sample) ? res.sample : {}
  const cpu = isObj(sample.cpu) ? sample.cpu : {}
  const mem = isObj(sample.memory) ? sample.memory : {}
  const disk = isObj(sample.disk) ? sample.disk : {}
  const power = isObj(sample.power) ? sample.power : undefined
  const load = Array.isArray(host.loadavg) ? host.loadavg.filter(isNum) : []
  figure(
    list,
    'CPU',
    `${isNum(cpu.host) ? `${pct(cpu.host, 0)} busy` : 'busy —'} · ${isNum(cpu.cores ?? host.cpus) ? `${cpu.cores ?? host.cpus} cores` : ''}${isNum(cpu.processCores) ? ` · node ${cpu.processCores.toFixed(2)} cores` : ''}${load.length > 0 ? ` · load ${load.map((l) => l.toFixed(2)).join(' ')}` : ''}`,
    cpu.host,
  )
  const total = isNum(mem.totalBytes) ? mem.totalBytes : host.totalMemory
  const free = isNum(mem.availableBytes) ? mem.availableBytes : host.freeMemory
  const used = isNum(mem.usedShare)
    ? mem.usedShare
    : isNum(total) && isNum(free) && total > 0
      ? 1 - free / total
      : undefined
  figure(
    list,
    'Memory',
    `${pct(used, 0)} used of ${bytes(total)} · node ${bytes(isObj(mem.process) ? mem.process.rssBytes : proc.rss)}`,
    used,
  )
  if (isNum(disk.totalBytes) && isNum(disk.freeBytes) && disk.totalBytes > 0) {
    const share = 1 - disk.freeBytes / disk.totalBytes
    figure(
      list,
      'Disk',
      `${bytes(disk.freeBytes)} free of ${bytes(disk.totalBytes)}${isNum(disk.writeBytesPerSec) ? ` · writes ${bytes(disk.writeBytesPerSec)}/s` : ''}`,
      share,
    )
  } else figure(list, 'Disk', 'not reported')
  const profile = isObj(res.profile) ? res.profile : undefined
  if (power !== undefined && (isNum(power.capacityPercent) || power.batteries?.length > 0)) {
    figure(
      list,
      'Battery',
      `${isNum(power.capacityPercent) ? `${Math.round(power.capacityPercent)} %` : 'charge unknown'} · ${power.onBattery === true ? 'on battery' : power.charging === true ? 'charging' : 'on mains'}`,
    )
  } else
    figure(list, 'Battery', profile !== undefined && str(profile.reason) === 'no battery' ? 'none' : 'not reported')
  if (profile !== undefined) {
    figure(list, 'Profile', `${str(profile.name, 40)}${profile.reason ? ` (${str(profile.reason, 120)})` : ''}`)
  }
  const sched = isObj(res.scheduler) ? res.scheduler : undefined
  if (sched !== undefined) {
    const n = (v) => (Array.isArray(v) ? v.length : 0)
    const pressure = Array.isArray(sched.pressure) ? sched.pressure.map((p) => str(p, 40)).filter(Boolean) : []
    figure(
      list,
      'Scheduler',
      `${n(sched.running)} running, ${n(sched.queued)} queued${pressure.length > 0 ? ` · pressure: ${pressure.join(', ')}` : ''}`,
    )
  }
  if (isNum(proc.uptimeS)) figure(list, 'Process', `up ${duration(proc.uptimeS)} · Node ${str(proc.node, 20)}`)
}

function renderChain() {
  const c = state.chain
  const list = document.getElementById('chain')
  const none = document.getElementById('chain-none')
  if (c === undefined) return
  clear(list)
  none.hidden = c !== null
  list.hidden = c === null
  if (c === null) return
  const standing = isObj(c.standing) ? c.standing : {}
  const claimed = isObj(c.claimed) ? c.claimed : {}
  const address = str(c.address, 60)
  figure(
    list,
    'Account',
    address ? el('code', { title: address, text: `${address.slice(0, 6)}…${address.slice(-4)}` }) : '—',
  )
  figure(list, 'Chain', c.up === true ? 'connected' : c.up === false ? 'not connected' : '—')
  figure(
    list,
    'Staked',
    `${str(standing.staked, 40) || '—'}${str(standing.pending, 40) && !/^0(\.0+)?(\s|$)/.test(str(standing.pending, 40)) ? ` (pending ${str(standing.pending, 40)})` : ''}`,
  )
  figure(list, 'Tier', isNum(standing.tier) ? String(standing.tier) : '—')
  figure(list, 'Reputation', str(String(standing.reputation ?? ''), 40) || '—')
  figure(
    list,
    'Rewards',
    `${str(claimed.amount, 40) || '0'} claimed${isNum(claimed.rounds) ? ` over ${claimed.rounds} round${claimed.rounds === 1 ? '' : 's'}` : ''}${isNum(c.settled) ? ` · ${c.settled} settled by this node` : ''}`,
  )
  if (isObj(c.roles)) {
    const roles = Object.entries(c.roles)
      .slice(0, 8)
      .map(([role, v]) => `${str(role, 30)} ${isObj(v) && v.eligible === true ? 'eligible' : 'not eligible'}`)
    figure(list, 'Roles', roles.join(' · ') || '—')
  }
  const reg = str(c.registeredPeerId)
  figure(list, 'Registered', reg ? el('code', { title: reg, text: shortId(reg) }) : 'not registered')
}

function renderAlerts() {
  const list = document.getElementById('alerts')
  clear(list)
  const items = [...state.alerts]
  // the resource monitor's current anomalies (from the system snapshot)
  const anomalies = isObj(state.system?.resources) ? state.system.resources.anomalies : undefined
  if (Array.isArray(anomalies)) {
    for (const a of anomalies.filter(isObj).slice(0, 20)) {
      items.push({
        severity: 'warning',
        rule: `anomaly: ${str(a.metric, 60)}`,
        state: 'firing',
        at: a.since,
        message: `${isNum(a.value) ? a.value.toPrecision(3) : '?'} against a normal ${isNum(a.baseline) ? a.baseline.toPrecision(3) : '?'}${isNum(a.score) ? ` (score ${a.score.toFixed(1)})` : ''}`,
      })
    }
  }
  for (const a of items.slice(0, MAX_ALERTS)) {
    const severity = str(a.severity, 20) || 'info'
    list.append(
      el(
        'li',
        { class: `alert sev-${severity.replace(/[^a-z]/g, '')} ${a.state === 'resolved' ? 'resolved' : ''}` },
        el('span', { class: 'badge', text: a.state === 'resolved' ? 'resolved' : severity }),
        ' ',
        el('strong', { text: str(a.rule, 80) || 'alert' }),
        ' ',
        el('span', { text: str(a.message, 300) }),
        ' ',
        el('time', { text: clock(a.at) }),
      ),
    )
  }
  document.getElementById('alerts-empty').hidden = list.children.length > 0
}

// ---------------------------------------------------------------- live feed and polling

const pending = new Set()
let pendingTimer
/** A discrete event on a channel: read that panel's endpoint again (a few at once, debounced). */
function refetchSoon(key) {
  const endpoint = STATE_ENDPOINT[key]
  if (endpoint === undefined) return
  pending.add(endpoint)
  if (pendingTimer !== undefined) return
  pendingTimer = setTimeout(() => {
    pendingTimer = undefined
    const keys = [...pending]
    pending.clear()
    void refresh(keys)
  }, 300)
}

function onFeedMessage({ channel, data }) {
  if (channel === 'alerts') {
    if (isObj(data.alert)) {
      state.alerts.unshift(data.alert)
      state.alerts.length = Math.min(state.alerts.length, MAX_ALERTS)
    }
  } else {
    const key = CHANNEL_STATE[channel]
    if ('snapshot' in data) {
      if (!accept(key, data.snapshot)) return
    } else if (isObj(data.event)) refetchSoon(key)
  }
  state.updated = Date.now()
  state.via = 'feed'
  render()
}

let ticks = 0
let polling = false
async function tick() {
  if (polling) return
  polling = true
  try {
    ticks++
    if (feedState !== 'live') {
      await refresh(['status', 'peers', 'training', 'system', 'health', ...(ticks % 5 === 0 ? ['jobs'] : [])])
    } else if (ticks % 5 === 0) {
      // live: the feed carries the panels; the node's status (roles, jobs) now and then
      await refresh(['status', 'jobs'])
    }
  } finally {
    polling = false
  }
}

async function main() {
  await refresh(Object.keys(ENDPOINTS))
  connectFeed({
    onState: (s) => {
      feedState = s === 'live' ? 'live' : s
      renderConnection()
      // back on the feed: a fresh snapshot of everything (events may have been missed)
      if (s === 'live') void refresh(Object.keys(ENDPOINTS))
    },
    onMessage: onFeedMessage,
    onError: ({ error, message }) => console.warn(`feed: ${error}: ${message}`),
  })
  setInterval(() => void tick(), POLL_MS)
}

void main()
