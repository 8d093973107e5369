/**
 * The dashboard at `/`: served with its Content-Security-Policy next to a working API (one real
 * node), and, in a real headless Chromium (Debian's `chromium`, driven by playwright-core), against
 * a running `vain demo`: the page shows the peers and an accuracy curve that grows, with no console
 * error, and its CSP refuses inline script. A screenshot is saved (path printed; directory from
 * `VAIN_TEST_ARTIFACTS`, else the OS temp dir).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DASHBOARD_CSP, DASHBOARD_DIR, DASHBOARD_FILES } from '../src/http/dashboard.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

describe('the dashboard is served next to the API', () => {
  let dir: string
  let node: RunningNode
  let url: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-dash-'))
    node = await startVainNode(
      {
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: 0,
        logLevel: 'error',
        json: false,
      },
      createLogger({ level: 'error', json: false }),
    )
    url = node.api?.url as string
  }, 120_000)
  afterAll(async () => {
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves / with the CSP, its files from DASHBOARD_DIR, and /api still answers', async () => {
    expect(existsSync(join(DASHBOARD_DIR, 'index.html'))).toBe(true)
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toBe(DASHBOARD_CSP)
    expect(csp).toContain("default-src 'self'")
    expect(csp).toContain("connect-src 'self' ws: wss:")
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/)
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    const html = await page.text()
    // no inline script: every <script> has a src on this node
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    expect(scripts.length).toBeGreaterThan(0)
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\/dashboard\/[\w.-]+\.js"/)
      expect(body?.trim()).toBe('')
    }
    expect(html).not.toMatch(/\son\w+=/i) // no inline event handlers
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//) // nothing off this node
    for (const [name, type] of Object.entries(DASHBOARD_FILES)) {
      const r = await fetch(`${url}/dashboard/${name}`)
      expect(r.status, name).toBe(200)
      expect(r.headers.get('content-type')).toBe(type)
      expect(r.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
    }
    // only the listed files: no path out of the folder
    expect((await fetch(`${url}/dashboard/..%2F..%2F..%2Fpackage.json`)).status).toBe(404)
    expect((await fetch(`${url}/dashboard/dashboard.ts`)).status).toBe(404)
    // the API's guard holds for the page too (DNS rebinding)
    const rebound = await new Promise<number>((resolve, reject) =>
      request(`${url}/`, { headers: { host: 'evil.example' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
        .once('error', reject)
        .end(),
    )
    expect(rebound).toBe(403)
    // and the API still answers
    const status = (await (await fetch(`${url}/api/status`)).json()) as { peerId: string }
    expect(status.peerId).toBe(node.node.peerId.toString())
    expect(Array.isArray(await (await fetch(`${url}/api/peers`)).json())).toBe(true)
    const training = (await (await fetch(`${url}/api/metrics/training`)).json()) as { jobs: unknown[] }
    expect(training.jobs).toEqual([])
    expect((await fetch(`${url}/api/node/health`)).status).toBe(200)
    const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(openapi.paths)).toContain('/api/status')
    expect(Object.keys(openapi.paths)).not.toContain('/')
  })
})

/** Does the node's feed answer (a `hello` within 15 s)? Decides what the page's indicator must show. */
async function feedAnswers(base: string): Promise<boolean> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/feed`)
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15_000)
      ws.addEventListener('message', (e) => {
        clearTimeout(timer)
        try {
          resolve((JSON.parse(String(e.data)) as { type?: string }).type === 'hello')
        } catch {
          resolve(false)
        }
      })
      ws.addEventListener('error', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
  } finally {
    ws.close()
  }
}

const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  console.warn(`dashboard browser test skipped: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
}

describe.skipIf(!haveChromium)('the dashboard in headless Chromium against a running vain demo', () => {
  let demo: ChildProcess | undefined
  let browser: Browser | undefined
  let output = ''
  afterAll(async () => {
    await browser?.close()
    if (demo !== undefined && demo.exitCode === null) {
      const closed = new Promise((r) => demo?.once('close', r))
      demo.kill('SIGINT')
      const timer = setTimeout(() => demo?.kill('SIGKILL'), 60_000)
      await closed
      clearTimeout(timer)
    }
  }, 90_000)

  it('shows the peers and an accuracy curve that grows, live, with no console error', {
    timeout: 600_000,
  }, async () => {
    // a small demo: 3 nodes, no chain, more rounds than the test watches (it is stopped after)
    demo = spawn(
      process.execPath,
      [
        '--conditions=vain-source',
        '--import',
        'tsx',
        CLI,
        'demo',
        '--no-chain',
        '--nodes',
        '3',
        '--rounds',
        '40',
        '--target',
        '0.999',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    demo.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output = (output + d).slice(-8000)
    })
    const lines = createInterface({ input: demo.stdout as NodeJS.ReadableStream })
    const base = await new Promise<string>((resolve, reject) => {
      lines.on('line', (line) => {
        output = `${output}${line}\n`.slice(-8000)
        const m = /^dashboard (http:\/\/127\.0\.0\.1:\d+)\//.exec(line)
        if (m?.[1] !== undefined) resolve(m[1])
      })
      demo?.once('close', (code) =>
        reject(new Error(`vain demo exited ${code} before printing its dashboard:\n${output}`)),
      )
    })
    const live = await feedAnswers(base)

    browser = await chromium.launch({ executablePath: CHROMIUM })
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const consoleErrors: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text())
    })
    page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`))
    const response = await page.goto(`${base}/`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-security-policy']).toBe(DASHBOARD_CSP)
    const fail = (what: string) => (err: Error) => {
      throw new Error(`${what}: ${err.message}\n--- demo output ---\n${output}`)
    }
    // the node's id, then at least one peer in the table (polled from here: the page's CSP refuses
    // the string predicates of waitForFunction, which need eval)
    await expect.poll(() => page.locator('#node-id').textContent(), { timeout: 60_000 }).toMatch(/^\w{40,}$/)
    await expect
      .poll(() => page.locator('#peers tbody tr').count(), { timeout: 180_000, interval: 500 })
      .toBeGreaterThanOrEqual(1)
      .catch(fail('no peer in the table'))
    // an accuracy curve with 2 points, then more: it grows as rounds complete
    const accuracyPoints = async () =>
      Number(
        (await page
          .locator('svg[data-chart="accuracy"]')
          .first()
          .getAttribute('data-points', { timeout: 1000 })
          .catch(() => null)) ?? 0,
      )
    await expect
      .poll(accuracyPoints, { timeout: 300_000, interval: 500 })
      .toBeGreaterThanOrEqual(2)
      .catch(fail('the accuracy curve never had 2 points'))
    const before = await accuracyPoints()
    await expect
      .poll(accuracyPoints, { timeout: 180_000, interval: 500 })
      .toBeGreaterThan(before)
      .catch(fail(`the accuracy curve did not grow past ${before} points`))
    expect(await page.locator('svg[data-chart="accuracy"] circle').count()).toBeGreaterThan(before)
    // the peers: short ids, authenticated, an RTT
    const firstRow = await page.locator('#peers tbody tr').first().locator('td').allTextContents()
    expect(firstRow[0]).toMatch(/^…\w{8}$/)
    expect(firstRow[1]).toMatch(/^(yes|no)$/)
    // resources, and no chain in this demo
    await expect.poll(() => page.locator('#resources dt').allTextContents()).toContain('Memory')
    expect(await page.locator('#chain-none').isVisible()).toBe(true)
    // live over the feed when the node has one; polling the REST API otherwise
    const indicator = page.locator('#conn')
    await expect.poll(() => indicator.getAttribute('data-state'), { timeout: 60_000 }).toBe(live ? 'live' : 'polling')

    const dir = process.env.VAIN_TEST_ARTIFACTS ?? tmpdir()
    await mkdir(dir, { recursive: true })
    const shot = join(dir, `vain-dashboard-${Date.now()}.png`)
    await page.screenshot({ path: shot, fullPage: true })
    console.log(`dashboard screenshot: ${shot} (feed ${live ? 'live' : 'absent: polling'})`)

    // no console error; without a feed on the node, only the socket's refused handshakes
    const unexpected = live
      ? consoleErrors
      : consoleErrors.filter((e) => !/WebSocket connection to 'ws:\/\/[^']+\/api\/feed' failed/.test(e))
    expect(unexpected).toEqual([])
    // the CSP holds: no inline script in the page, and one added now does not run
    expect(await page.locator('script:not([src])').count()).toBe(0)
    const inlineRan = await page.evaluate(async () => {
      // runs in the page (no DOM types in this project: its globals, loosely typed)
      const g = globalThis as unknown as {
        inlineRan?: boolean
        document: {
          addEventListener(t: string, f: (e: { violatedDirective: string }) => void, o: { once: boolean }): void
          createElement(t: string): { textContent: string }
          head: { append(n: unknown): void }
        }
      }
      const violation = new Promise<string>((resolve) =>
        g.document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true }),
      )
      const s = g.document.createElement('script')
      s.textContent = 'globalThis.inlineRan = true'
      g.document.head.append(s)
      const directive = await violation
      return { ran: g.inlineRan === true, directive }
    })
    expect(inlineRan.ran).toBe(false)
    expect(inlineRan.directive).toMatch(/^script-src/)

    // the socket fails (refused here, in the browser): the page falls back to polling the REST API
    const fallback = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await fallback.routeWebSocket(/\/api\/feed$/, (ws) => ws.close({ code: 1011, reason: 'test: no feed' }))
    await fallback.goto(`${base}/`)
    await expect.poll(() => fallback.locator('#conn').getAttribute('data-state'), { timeout: 60_000 }).toBe('polling')
    await expect
      .poll(() => fallback.locator('#peers tbody tr').count(), { timeout: 60_000, interval: 500 })
      .toBeGreaterThanOrEqual(1)
    // and keeps reading: the footer's time moves on
    const stamp = await fallback.locator('#updated').textContent()
    await expect.poll(() => fallback.locator('#updated').textContent(), { timeout: 60_000 }).not.toBe(stamp)
    expect(await fallback.locator('#updated').textContent()).toContain('(REST)')

    // hostile strings from the feed (a peer's id and roles, a job's name, an alert) are shown as
    // text, never parsed as HTML: this feed is played by the test (the page cannot tell)
    const hostile = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const hostileErrors: string[] = []
    hostile.on('console', (m) => {
      if (m.type() === 'error') hostileErrors.push(m.text())
    })
    const peerId = `12D3KooW<img src=x onerror="globalThis.pwned=1">`
    const events = [
      {
        channel: 'peers',
        data: { snapshot: [{ peerId, authenticated: true, roles: ['<b>bold</b>'], session: { rttMs: 'NaN' } }] },
      },
      {
        channel: 'training',
        data: {
          snapshot: {
            jobs: [
              {
                jobId: 'a'.repeat(64),
                name: '<i>job</i>',
                state: 'running',
                round: 2,
                rounds: 5,
                roundsCompleted: 2,
                contributions: [2, 2],
                history: [
                  { round: 0, accuracy: 0.5, loss: 1.2, contributions: 2, bytesUp: 1000, at: 1 },
                  { round: 1, accuracy: 0.7, loss: 0.8, contributions: 2, bytesUp: 1000, at: 2 },
                ],
              },
            ],
          },
        },
      },
      { channel: 'chain', data: { snapshot: null } },
      {
        channel: 'alerts',
        data: {
          alert: {
            rule: '<script>globalThis.pwned=2</script>',
            severity: 'critical',
            state: 'firing',
            at: 1,
            message: '<img src=y onerror="globalThis.pwned=3">',
          },
        },
      },
    ]
    // the first connection goes away once subscribed (a node restarting): the page reconnects and
    // subscribes again
    let connections = 0
    const subscribed: number[] = []
    await hostile.routeWebSocket(/\/api\/feed$/, (ws) => {
      const connection = ++connections
      let timer: ReturnType<typeof setInterval> | undefined
      ws.send(JSON.stringify({ type: 'hello', version: 1, node: 'test', channels: events.map((e) => e.channel) }))
      let seq = 0
      ws.onMessage((message) => {
        if ((JSON.parse(String(message)) as { type: string }).type !== 'subscribe') return
        subscribed.push(connection)
        if (connection === 1) {
          void ws.close({ code: 1001, reason: 'test: going away' })
          return
        }
        // sent again and again: the page's own REST snapshot on going live must not win for good
        timer ??= setInterval(() => {
          for (const e of events) ws.send(JSON.stringify({ type: 'event', seq: seq++, ts: Date.now(), ...e }))
        }, 500)
      })
      ws.onClose(() => clearInterval(timer))
    })
    await hostile.goto(`${base}/`)
    await expect.poll(() => hostile.locator('#conn').getAttribute('data-state'), { timeout: 60_000 }).toBe('live')
    const hostileRow = hostile.locator('#peers tbody tr').filter({ hasText: 'bold' })
    await expect.poll(() => hostileRow.count(), { timeout: 60_000, interval: 500 }).toBe(1)
    expect(await hostileRow.locator('code').getAttribute('title')).toBe(peerId)
    expect(await hostileRow.locator('td').allTextContents()).toEqual(
      expect.arrayContaining([`…${peerId.slice(-8)}`, '<b>bold</b>', '—']),
    )
    await expect
      .poll(() => hostile.locator('#alerts li').first().textContent(), { timeout: 60_000 })
      .toContain('<script>globalThis.pwned=2</script>')
    expect(await hostile.locator('#alerts li').first().textContent()).toContain('<img src=y')
    await expect
      .poll(() => hostile.locator('#jobs h3').first().textContent(), { timeout: 60_000 })
      .toContain('<i>job</i>')
    expect(await hostile.locator('svg[data-chart="accuracy"]').first().getAttribute('data-points')).toBe('2')
    // nothing of it became markup, nothing ran
    expect(await hostile.locator('main img, main script, main b, main i').count()).toBe(0)
    expect(await hostile.evaluate(() => (globalThis as { pwned?: unknown }).pwned)).toBeUndefined()
    expect(hostileErrors).toEqual([])
    expect(subscribed.slice(0, 2)).toEqual([1, 2])
  })
})
