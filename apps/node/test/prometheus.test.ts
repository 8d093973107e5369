/**
 * A real Prometheus (Debian's `prometheus` package, installed by .ci/run) scrapes a running
 * node's `GET /metrics`; a vAIn metric is read back through Prometheus's HTTP API, and
 * `promtool check metrics` passes on the node's output. The node's history is in its data dir.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore } from '@vain/metrics'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

const config = (dataDir: string, bootstrap: string[], apiPort: number | null) => ({
  dataDir,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap,
  profile: 'loopback' as const,
  roles: ['validator' as const],
  apiPort,
  logLevel: 'error' as const,
  json: false,
})

describe('a real Prometheus scrapes the node', () => {
  let dirA: string
  let dirB: string
  let promDir: string
  let a: RunningNode
  let b: RunningNode
  let prom: ChildProcess | undefined
  let promUrl: string
  const log = createLogger({ level: 'error', json: false })

  beforeAll(async () => {
    dirA = await mkdtemp(join(tmpdir(), 'vain-prom-a-'))
    dirB = await mkdtemp(join(tmpdir(), 'vain-prom-b-'))
    promDir = await mkdtemp(join(tmpdir(), 'vain-prom-'))
    a = await startVainNode(config(dirA, [], 0), log)
    b = await startVainNode(config(dirB, a.node.multiaddrs.map(String), null), log)
    const api = new URL(a.api?.url as string)
    const port = await freePort()
    promUrl = `http://127.0.0.1:${port}`
    await writeFile(
      join(promDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: vain',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['${api.host}']`,
        '',
      ].join('\n'),
    )
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(promDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    prom.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    prom.once('exit', (code) => {
      if (code !== null && code !== 0) console.error(`prometheus exited ${code}: ${stderr}`)
    })
  })

  afterAll(async () => {
    if (prom !== undefined && prom.exitCode === null) {
      const exited = new Promise((r) => prom?.once('exit', r))
      prom.kill('SIGTERM')
      await exited
    }
    await Promise.all([a?.stop(), b?.stop()])
    await Promise.all([dirA, dirB, promDir].map((d) => rm(d, { recursive: true, force: true })))
  })

  it('serves /metrics without a token, promtool accepts it, Prometheus reads it back', async () => {
    await expect.poll(() => a.node.authenticatedPeers().length, { timeout: 30_000, interval: 200 }).toBe(1)
    const res = await fetch(`${a.api?.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toContain('vain_authenticated_peers 1')
    expect(text).toMatch(/^libp2p_\w+/m)
    // the host, as @vain/resources samples it (memory is always known on Linux)
    expect(text).toMatch(/^vain_resource\{resource="memory_total_bytes"\} [1-9]/m)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)

    // Prometheus scrapes every 1 s: wide margins for a busy machine
    const query = async (q: string) => {
      const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined)
      if (r === undefined || !r.ok) return undefined
      const body = (await r.json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
      }
      return body.data.result
    }
    await expect
      .poll(async () => (await query('vain_authenticated_peers{job="vain"}'))?.[0]?.value[1], {
        timeout: 90_000,
        interval: 500,
      })
      .toBe('1')
    expect((await query('up{job="vain"}'))?.[0]?.value[1]).toBe('1')
  })

  it('gathers the cluster view over /vain/metrics and keeps history in the data dir', async () => {
    const cluster = (await (await fetch(`${a.api?.url}/metrics/cluster`)).json()) as Array<{
      peerId: string
      ok: boolean
      summary?: { figures: Record<string, number> }
    }>
    expect(cluster).toHaveLength(1)
    expect(cluster[0]?.peerId).toBe(b.node.peerId.toString())
    expect(cluster[0]?.ok).toBe(true)
    expect(cluster[0]?.summary?.figures.vain_authenticated_peers).toBe(1)

    expect(await a.metrics.history.record()).toBeGreaterThan(0)
    await a.stop()
    const store = openStore({ dir: join(dirA, 'metrics') })
    try {
      expect(store.damaged).toEqual([])
      const points = store.query(store.series('vain_authenticated_peers'))
      expect(points.at(-1)?.v).toBe(1)
    } finally {
      store.close()
    }
  })
})
