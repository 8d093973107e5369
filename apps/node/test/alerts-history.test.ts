/**
 * The node's alert rules (from its config: notices to the log and to a webhook on 127.0.0.1) and
 * its metric history API (`GET /api/metrics/history`), on real nodes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppConfigError, loadAppConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { NodeAlertsConfigSchema } from '../src/metrics.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const base = (dataDir: string) => ({
  dataDir,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [] as string[],
  profile: 'loopback' as const,
  roles: ['validator' as const],
  apiPort: 0,
  logLevel: 'error' as const,
  json: false,
})

describe('alert rules from the config', () => {
  it('refuses invalid rules and webhooks with an AppConfigError naming them', async () => {
    const bad = [
      { alerts: { rules: [{ name: 'x', kind: 'threshold', metric: 'vain_peers', op: '!', value: 1 }] } },
      { alerts: { rules: [{ name: 'x', kind: 'absence', metric: 'bad metric', afterMs: 5000 }] } },
      { alerts: { webhook: { url: 'file:///etc/passwd' } } },
      { alerts: { intervalMs: 10 } },
    ]
    for (const flags of bad) {
      const err = await loadAppConfig(undefined, { dataDir: '/tmp/x', ...flags }).catch((e: unknown) => e)
      expect(err, JSON.stringify(flags)).toBeInstanceOf(AppConfigError)
      expect((err as Error).message).toMatch(/alerts\./)
    }
    expect(NodeAlertsConfigSchema.parse({}).intervalMs).toBe(10_000)
  })

  describe('on a running node', () => {
    let server: Server
    let url: string
    const notices: Array<{ rule: string; state: string; value?: number }> = []
    const dirs: string[] = []
    const nodes: RunningNode[] = []
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = ''
        req.on('data', (c) => (body += c))
        req.on('end', () => {
          notices.push(JSON.parse(body))
          res.writeHead(204).end()
        })
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`
    })
    afterAll(async () => {
      await Promise.allSettled(nodes.map((n) => n.stop()))
      await new Promise((r) => server.close(r))
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
    })

    it('fires when a lone node has no peer, resolves once one authenticates, and posts both to the webhook', async () => {
      const dirA = await mkdtemp(join(tmpdir(), 'vain-alerts-a-'))
      const dirB = await mkdtemp(join(tmpdir(), 'vain-alerts-b-'))
      dirs.push(dirA, dirB)
      const alerts = NodeAlertsConfigSchema.parse({
        intervalMs: 1_000,
        rules: [
          {
            name: 'lonely',
            kind: 'threshold',
            metric: 'vain_authenticated_peers',
            op: '<',
            value: 1,
            clear: 1,
            severity: 'critical',
          },
        ],
        webhook: { url },
      })
      const a = await startVainNode({ ...base(dirA), alerts }, createLogger({ level: 'error', json: false }))
      nodes.push(a)
      const firing = await waitFor(
        () => notices.find((n) => n.rule === 'lonely' && n.state === 'firing'),
        120_000,
        'the firing notice',
      )
      expect(firing.value).toBe(0)
      expect(a.metrics.alerts.firing()).toEqual(['lonely'])
      const b = await startVainNode(
        { ...base(dirB), bootstrap: a.node.multiaddrs.map(String) },
        createLogger({ level: 'error', json: false }),
      )
      nodes.push(b)
      const resolved = await waitFor(
        () => notices.find((n) => n.rule === 'lonely' && n.state === 'resolved'),
        120_000,
        'the resolved notice',
      )
      expect(resolved.value).toBeGreaterThanOrEqual(1)
      expect(a.metrics.alerts.firing()).toEqual([])

      // the history API: the series the store holds, then one metric's points (recorded every 10 s)
      const api = a.api?.url as string
      const held = await waitFor(
        async () => {
          const body = (await (await fetch(`${api}/api/metrics/history`)).json()) as {
            series: Array<{ name: string }>
          }
          return body.series.some((s) => s.name === 'vain_authenticated_peers') ? body : undefined
        },
        120_000,
        'a recorded history',
      )
      expect(held.series.length).toBeGreaterThan(5)
      const res = await fetch(`${api}/api/metrics/history?metric=vain_authenticated_peers&resolution=raw&from=0`)
      expect(res.status).toBe(200)
      const one = (await res.json()) as { series: Array<{ points: Array<{ t: number; v: number }> }> }
      expect(one.series).toHaveLength(1)
      expect(one.series[0]?.points.length).toBeGreaterThanOrEqual(1)
      expect(one.series[0]?.points[0]?.t).toBeGreaterThan(Date.now() - 3_600_000)
      // bad input: typed errors
      for (const [q, status, name] of [
        ['metric=vain_nope', 404, 'UnknownMetric'],
        ['metric=bad%20name', 400, undefined],
        ['metric=vain_authenticated_peers&from=10&to=5', 400, 'InvalidRange'],
        ['metric=vain_authenticated_peers&resolution=1s', 400, undefined],
        ['metric=vain_authenticated_peers&from=yesterday', 400, undefined],
        ['metric=vain_authenticated_peers&labels=job', 400, undefined],
        ['metric=vain_authenticated_peers&maxPoints=0', 400, undefined],
      ] as const) {
        const r = await fetch(`${api}/api/metrics/history?${q}`)
        expect(r.status, q).toBe(status)
        const body = (await r.json()) as { error: { name: string; message: string } }
        expect(body.error.message, q).toBeTypeOf('string')
        if (name !== undefined) expect(body.error.name, q).toBe(name)
      }
    }, 400_000)
  })
})
