import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import {
  type AlertNotice,
  type AnomalyEvent,
  createAlerts,
  logNotifier,
  parseRules,
  webhookNotifier,
} from '../src/index.js'

const sample = (name: string, value: number, labels: Record<string, string> = {}) => ({ name, labels, value })

describe('alert rules', () => {
  it('refuses invalid rules with every problem listed', () => {
    expect(() =>
      parseRules([{ kind: 'threshold', name: 'x', metric: 'vain_peers', op: '<', value: 2, clear: 1 }]),
    ).toThrow(expect.objectContaining({ name: 'InvalidRuleError', issues: [expect.stringMatching(/clear/)] }))
    try {
      parseRules([
        { kind: 'threshold', name: 'bad name!', metric: '9x', op: '=', value: 'a' },
        { kind: 'nope', name: 'y' },
        { kind: 'absence', name: 'z', metric: 'vain_round', afterMs: 10, extra: 1 },
      ])
      expect.unreachable()
    } catch (err) {
      expect((err as Error).name).toBe('InvalidRuleError')
      expect((err as { issues: string[] }).issues.length).toBeGreaterThanOrEqual(3)
    }
    expect(() =>
      parseRules([
        { kind: 'absence', name: 'a', metric: 'm', afterMs: 1000 },
        { kind: 'absence', name: 'a', metric: 'm', afterMs: 1000 },
      ]),
    ).toThrow(/used twice/)
  })

  it('threshold with hysteresis and forMs: fires once, resolves only past the clear level', () => {
    const alerts = createAlerts({
      rules: [
        {
          kind: 'threshold',
          name: 'few-peers',
          metric: 'vain_authenticated_peers',
          op: '<',
          value: 3,
          clear: 5,
          forMs: 10_000,
        },
      ],
    })
    const seen: string[] = []
    alerts.addEventListener('firing', (e) => seen.push(`firing@${e.detail.at}`))
    alerts.addEventListener('resolved', (e) => seen.push(`resolved@${e.detail.at}`))
    const feed = [6, 2, 2, 2, 4, 2, 4, 4, 5, 6, 2]
    feed.forEach((v, i) => {
      alerts.evaluate([sample('vain_authenticated_peers', v)], i * 5000)
    })
    // below 3 from t=5000; held 10 s at t=15000; 4 is not past clear 5; 5 is (not < 5)
    expect(seen).toEqual(['firing@15000', 'resolved@40000'])
    expect(alerts.firing()).toEqual([])
  })

  it('rate of change and absence', () => {
    const alerts = createAlerts({
      rules: [
        {
          kind: 'rate',
          name: 'refusals',
          metric: 'vain_updates_refused_total',
          labels: { reason: 'InvalidUpdateError' },
          op: '>',
          value: 1,
          windowMs: 10_000,
        },
        { kind: 'absence', name: 'no-rounds', metric: 'vain_round', afterMs: 20_000 },
      ],
    })
    const seen: string[] = []
    alerts.addEventListener('firing', (e) => seen.push(`${e.detail.rule} firing ${e.detail.at}`))
    alerts.addEventListener('resolved', (e) => seen.push(`${e.detail.rule} resolved ${e.detail.at}`))
    const refused = (v: number) =>
      sample('vain_updates_refused_total', v, { kind: 'update', reason: 'InvalidUpdateError' })
    alerts.evaluate([refused(0), sample('vain_round', 1)], 0)
    alerts.evaluate([refused(5)], 5000) // 1/s: not > 1
    alerts.evaluate([refused(30)], 10_000) // 3/s over 10 s
    alerts.evaluate([refused(30)], 20_000) // 0/s
    alerts.evaluate([refused(30)], 25_000) // (vain_round silent 20 s at t=20000: fired then)
    alerts.evaluate([sample('vain_round', 2)], 30_000)
    expect(seen).toEqual([
      'refusals firing 10000',
      'refusals resolved 20000',
      'no-rounds firing 20000',
      'no-rounds resolved 30000',
    ])
  })

  it('anomalies from an injected source; notices go to the log, a webhook on 127.0.0.1 and the emitter', async () => {
    const received: AlertNotice[] = []
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        expect(req.headers['content-type']).toBe('application/json')
        received.push(JSON.parse(body))
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`
    const lines: string[] = []
    const log = {
      info: (m: string) => lines.push(`info ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
    }
    let emit: ((a: AnomalyEvent) => void) | undefined
    const alerts = createAlerts({
      rules: [
        { kind: 'anomaly', name: 'gpu', severity: 'critical', anomalies: ['gpu-memory'], resolveAfterMs: 60_000 },
      ],
      anomalies: (listener) => {
        emit = listener
        return () => {
          emit = undefined
        }
      },
      notifiers: [logNotifier(log), webhookNotifier({ url })],
    })
    const live: string[] = []
    alerts.addEventListener('firing', (e) => live.push(e.detail.rule))
    alerts.start()
    emit?.({ kind: 'cpu', message: 'not this rule', at: 1 })
    emit?.({ kind: 'gpu-memory', message: 'VRAM 3σ above its mean', value: 0.97, at: 1000 })
    emit?.({ kind: 'gpu-memory', message: 'again', value: 0.98, at: 2000 }) // already firing
    alerts.evaluate([], 30_000)
    alerts.evaluate([], 62_001) // 60 s after the last anomaly
    await alerts.stop()
    expect(emit).toBeUndefined()
    expect(live).toEqual(['gpu'])
    expect(lines).toEqual([
      'error alert firing: gpu-memory: VRAM 3σ above its mean',
      'info alert resolved: no gpu-memory for 60000 ms',
    ])
    expect(received.map((n) => [n.rule, n.state, n.at])).toEqual([
      ['gpu', 'firing', 1000],
      ['gpu', 'resolved', 62_001],
    ])
    await new Promise<void>((r) => server.close(() => r()))
  })

  it('a failing webhook is reported as notifier:error, the engine goes on', async () => {
    const server = createServer((_req, res) => res.writeHead(500).end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
    const alerts = createAlerts({
      rules: [{ kind: 'threshold', name: 'x', metric: 'm', op: '>', value: 1 }],
      notifiers: [webhookNotifier({ url })],
    })
    const errors: string[] = []
    alerts.addEventListener('notifier:error', (e) => errors.push(e.detail.error.name))
    alerts.evaluate([sample('m', 2)], 1)
    await alerts.settled()
    expect(errors).toEqual(['WebhookError'])
    expect(alerts.firing()).toEqual(['x'])
    await new Promise<void>((r) => server.close(() => r()))
  })
})
