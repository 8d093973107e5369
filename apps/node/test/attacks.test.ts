/**
 * Attacks on a node (SECURITY.md, "any peer"), run end to end against real vAIn nodes on
 * 127.0.0.1 while an honest job trains.
 *
 * The honest network: three `vain start` processes (trainer + aggregator, an MNIST shard each,
 * `jobs.accept` = the honest creator and one "admitted" creator) and, in this process, the honest
 * creator (a validator node that submits the job and watches its rounds). The victims are child
 * processes so that their memory is measured as the kernel sees it: VmRSS / VmHWM from
 * /proc/<pid>/status, the peak reset before each attack (`clear_refs` 5).
 *
 * The attackers are what a stranger would write on @vain/net: real libp2p nodes with fresh keys,
 * speaking the round's own wire formats (signed envelopes, `/vain/update/1.0.0`, gossip,
 * `/vain/job-latest/1.0.0`, blob sharing's manifest protocol).
 *
 * Every wait is on an event (a log line of a victim, a round completed, a reply); the timeouts are
 * only wide margins for a busy 2-core machine.
 *
 * Memory bound, per attack: the victim's peak RSS while under attack stays within
 * {@link RSS_BOUND} (256 MiB) of its RSS before the attack. From the configured limits: the one
 * honest job holds at most 64 MiB of early updates, reserved before they are read
 * (`maxEarlyBytes`), and only from trainers the next round expects; a refused update stream costs
 * at most its read-ahead (a few 1 MiB chunks, 16 streams per connection); gossiped jobs are
 * ≤ 1 MiB each and at most 4 from one creator are taken on; a model manifest is at most 16 MiB
 * and is decoded only when it is short enough for the job's model; the flood is answered with
 * small frames, at most 1,000 + 500/s. The "control" phase measures what honest rounds alone add
 * (about 40–70 MiB here). Without the defences each attack here needs more than the bound: a
 * 256 MiB update read; 10 identities × 16 streams × 4 MiB of early updates (640 MiB); a 16 MB
 * manifest decoded on each try to load the model (measured +529 MiB).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  computeJobId,
  createModel,
  encodeModel,
  type JobSpecInput,
  JobSpecSchema,
  mlp,
  ROUND_PROTOCOL_VERSION,
  signRoundMessage,
} from '@vain/fl'
import { LATEST_PROTOCOL, ROUND_TOPICS, UPDATE_PROTOCOL } from '@vain/fl/vain-net'
import { chunkCid, encodeManifest, manifestCid } from '@vain/memory'
import { vainNetBlobNetwork } from '@vain/memory/vain-net'
import { createNode, RateLimitedError, type VainNode } from '@vain/net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const MiB = 1024 * 1024
/** The named bound: a victim's peak RSS under any one attack, over its RSS before that attack. */
const RSS_BOUND = 256 * MiB
/** The honest job's largest update (`maxUpdateBytes`). */
const MAX_UPDATE = 4 * MiB
/** Margin for waits on events (a busy shared 2-core machine): never what a test waits for. */
const WIDE = 150_000
const N = 3
/** What the attacker's model manifest claims: 1.5 TiB (400,000 chunks of 4 MiB: a 16 MB manifest, near the largest taken). */
const BOMB_BYTES = 400_000 * 4 * MiB
const log = createLogger({ level: 'error', json: false })

async function waitFor(check: () => boolean | Promise<boolean>, label: string, ms = WIDE): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out (a wide margin): ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A `vain start` child process: its JSON log lines as they come, its memory from /proc. */
interface Victim {
  proc: ChildProcess
  pid: number
  peerId: string
  multiaddr: string
  api: string
  lines: Array<Record<string, unknown>>
  /** Honest rounds this victim completed (its `round completed` lines for the honest job). */
  rounds(): number
}

function procStatus(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** CPU time (user + system) of a process so far, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Reset the peak RSS (VmHWM) of a process to its current RSS. */
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5')

function startVictim(configFile: string, honestJob: () => string | undefined): Promise<Victim> {
  const proc = spawn(
    process.execPath,
    ['--conditions=vain-source', '--import', 'tsx', CLI, 'start', '--config', configFile],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const lines: Array<Record<string, unknown>> = []
  let stderr = ''
  const onLine = (line: string) => {
    if (!line.startsWith('{')) return
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // not one of ours
    }
  }
  const split = (stream: NodeJS.ReadableStream, each: (s: string) => void) => {
    let buf = ''
    stream.setEncoding('utf8')
    stream.on('data', (d: string) => {
      buf += d
      const parts = buf.split('\n')
      buf = parts.pop() ?? ''
      for (const p of parts) each(p)
    })
  }
  split(proc.stderr as NodeJS.ReadableStream, (l) => {
    stderr = `${stderr}${l}\n`.slice(-20_000)
    onLine(l)
  })
  return new Promise((resolve, reject) => {
    split(proc.stdout as NodeJS.ReadableStream, (l) => {
      onLine(l)
      if (!l.startsWith('{"ready":true')) return
      const ready = JSON.parse(l) as { peerId: string; multiaddrs: string[]; api: string }
      resolve({
        proc,
        pid: proc.pid as number,
        peerId: ready.peerId,
        multiaddr: ready.multiaddrs[0] as string,
        api: ready.api,
        lines,
        rounds: () => {
          const job = honestJob()?.slice(0, 12)
          return lines.filter((x) => x.msg === 'round completed' && x.job === job).length
        },
      })
    })
    proc.once('close', (status) => reject(new Error(`vain start exited ${status} before it was ready:\n${stderr}`)))
  })
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return res.json()
}

/** A stranger's node on @vain/net: a fresh key, nothing else of vAIn. */
async function strangerNode(dataDir: string | undefined, bootstrap: string[] = []): Promise<VainNode> {
  const node = await createNode({
    ...(dataDir !== undefined ? { dataDir } : {}),
    profile: 'loopback',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    roles: ['trainer'],
    discovery: { mdns: false, dht: false, pex: false },
    // its own circuit breaker must not stop it: it keeps asking whatever it is told; and it opens
    // as many streams at once as the victim takes (64 per protocol and connection)
    limits: { breakerFailureThreshold: 1000 },
    pool: { maxStreamsPerPeer: 64 },
  })
  return node
}

describe('attacks on a node, against real vAIn nodes on 127.0.0.1, while an honest job trains', () => {
  let root: string
  let creator: RunningNode
  const victims: Victim[] = []
  /** A creator the victims' policy admits (on a chain: one staked at the creator tier) who turns bad. */
  let admitted: VainNode
  let honestJob: string | undefined
  const attackers: VainNode[] = []
  const figures: string[] = []

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-attacks-'))
    admitted = await strangerNode(join(root, 'admitted'))
    creator = await startVainNode(
      {
        dataDir: join(root, 'creator'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        jobs: { accept: [] },
        logLevel: 'error',
        json: false,
      },
      log,
    )
    const boot = [String(creator.node.multiaddrs[0])]
    for (let i = 0; i < N; i++) {
      const config: AppConfig = {
        dataDir: join(root, `victim${i}`),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: boot,
        profile: 'loopback',
        roles: ['trainer', 'aggregator'],
        apiPort: 0,
        data: { dataset: 'mnist', shard: i, shards: 12, alpha: 1, seed: 1 },
        // the honest creator, and the creator that turns bad; caps: the defaults (16 jobs, 4 per creator)
        jobs: { accept: [creator.node.peerId.toString(), admitted.peerId.toString()] },
        logLevel: 'info',
        json: true,
      }
      const file = join(root, `victim${i}.json`)
      await writeFile(file, JSON.stringify(config))
      victims.push(await startVictim(file, () => honestJob))
    }
    await waitFor(() => creator.node.authenticatedPeers().length >= N, 'the creator meets every victim')
    await waitFor(
      () => victims.every((v) => creator.node.topicPeers(ROUND_TOPICS.jobs).some((p) => p.toString() === v.peerId)),
      'every victim listens to jobs',
    )
    const arch = mlp(784, [32], 10)
    const initialModel = await creator.models.put(encodeModel(createModel(arch, { seed: 2 })))
    const ids = victims.map((v) => v.peerId)
    const spec: JobSpecInput = {
      name: 'honest',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8' },
      rounds: 10_000,
      // rounds close on events (every expected update in, a committee majority): the deadline is
      // only a wide margin for a busy machine
      roundDeadlineMs: 60_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: MAX_UPDATE,
      participants: { aggregators: ids, trainers: ids },
    }
    honestJob = (await creator.participant.submitJob(spec)).jobId
    // steady state: two honest rounds done on every victim before any attack
    await waitFor(() => victims.every((v) => v.rounds() >= 2), 'two honest rounds before the attacks')
  }, WIDE + 120_000)

  // each attack's strangers go when it ends (the admitted creator stays: the victims know it)
  afterEach(async () => {
    await Promise.allSettled(attackers.splice(0).map((a) => a.stop()))
  })

  afterAll(async () => {
    await Promise.allSettled(attackers.map((a) => a.stop()))
    await admitted?.stop().catch(() => {})
    await Promise.allSettled(
      victims.map(
        (v) =>
          new Promise<void>((resolve) => {
            if (v.proc.exitCode !== null) return resolve()
            v.proc.once('close', () => resolve())
            v.proc.kill('SIGINT')
            setTimeout(() => v.proc.kill('SIGKILL'), 20_000).unref()
          }),
      ),
    )
    await creator?.stop()
    await rm(root, { recursive: true, force: true })
    console.log(`attack figures (victim 0, pid RSS from /proc):\n  ${figures.join('\n  ')}`)
  }, 120_000)

  /**
   * Run `attack` against victim 0: once it says its first full pass was delivered, it keeps going
   * until the victim completed 2 more honest rounds (then `signal` stops it). Measures the
   * victim's peak RSS (VmHWM, reset at the start) and CPU meanwhile; checks its API answers after.
   */
  async function underAttack(
    name: string,
    attack: (signal: AbortSignal, delivered: () => void) => Promise<void>,
  ): Promise<{ grew: number; rounds: number }> {
    const v = victims[0] as Victim
    const roundsBefore = v.rounds()
    const before = procStatus(v.pid)
    const cpu0 = cpuSeconds(v.pid)
    resetPeak(v.pid)
    const t0 = Date.now()
    const stop = new AbortController()
    let roundsAtDelivery: number | undefined
    let failed: unknown
    let deliveredMs = 0
    const running = attack(stop.signal, () => {
      if (roundsAtDelivery !== undefined) return
      roundsAtDelivery = v.rounds()
      deliveredMs = Date.now() - t0
    }).catch((err: unknown) => {
      failed = err
    })
    // honest work still done: 2 more rounds complete on the victim after the attack's first
    // pass landed, while it goes on
    await waitFor(
      () => failed !== undefined || (roundsAtDelivery !== undefined && v.rounds() >= roundsAtDelivery + 2),
      `${name}: 2 honest rounds during the attack`,
    )
    stop.abort()
    await running
    if (failed !== undefined) throw failed
    const peak = procStatus(v.pid).hwm
    const after = procStatus(v.pid).rss
    const grew = peak - before.rss
    // the node still answers its API
    const status = (await getJson(`${v.api}/status`)) as { peerId: string; jobs: string[] }
    expect(status.peerId).toBe(v.peerId)
    expect(status.jobs).toContain(honestJob)
    const rounds = v.rounds() - roundsBefore
    figures.push(
      `${name}: rss before ${(before.rss / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB (+${(grew / MiB).toFixed(0)}), after ${(after / MiB).toFixed(0)} MiB; cpu ${(cpuSeconds(v.pid) - cpu0).toFixed(1)} s in ${((Date.now() - t0) / 1000).toFixed(1)} s (attack delivered after ${(deliveredMs / 1000).toFixed(1)} s); ${rounds} honest rounds`,
    )
    expect(rounds).toBeGreaterThanOrEqual(2)
    return { grew, rounds }
  }

  /** A started stranger node connected to victim 0 and through its handshake. */
  async function stranger(): Promise<VainNode> {
    const node = await strangerNode(undefined)
    await node.start()
    attackers.push(node)
    const v = victims[0] as Victim
    await node.connect(v.multiaddr)
    await waitFor(() => node.authenticatedPeers().some((p) => p.toString() === v.peerId), 'the victim authenticated')
    return node
  }

  const honestStatus = async (v: Victim) =>
    (await getJson(`${v.api}/jobs/${honestJob}`)) as {
      round: number
      model: string
      announcement: { spec: { initialModel: string } }
    }

  const sha256hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

  /** 1 MiB of incompressible bytes (@vain/net compresses chunks that compress well). */
  const noise = new Uint8Array(randomBytes(MiB))

  it('control: no attack, 4 honest rounds', async () => {
    await underAttack('control (no attack)', async (signal, delivered) => {
      const v = victims[0] as Victim
      const from = v.rounds()
      await waitFor(() => v.rounds() >= from + 2, 'honest rounds')
      delivered()
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))
    })
  })

  it('(a, d) 300 signed jobs gossiped from a fresh key are not taken on (policy); 40 from an admitted creator: 4 (caps), and their 1.5 TiB model is refused from its manifest', async () => {
    const v = victims[0] as Victim
    // the admitted creator's jobs point at a model whose manifest lists 1.5 TiB (400,000 chunks of
    // 4 MiB, all the same chunk): it serves the manifest, and counts who asks for a chunk
    const bomb = encodeManifest({
      size: BOMB_BYTES,
      chunkBytes: 4 * MiB,
      chunks: Array(BOMB_BYTES / (4 * MiB)).fill(chunkCid(noise)),
    })
    const bombCid = manifestCid(bomb)
    const asked = { manifest: 0, chunk: 0 }
    await admitted.start()
    await vainNetBlobNetwork(admitted).serve({
      manifest: (cid) => {
        if (!cid.equals(bombCid)) return undefined
        asked.manifest++
        return bomb
      },
      chunk: () => {
        asked.chunk++
        return undefined
      },
      holds: () => ({ state: 'none', pinned: false }),
      replicate: () => ({ accepted: false }),
    })
    const stranger0 = await stranger()
    for (const v of victims.slice(1)) await admitted.connect(v.multiaddr)
    await admitted.connect(v.multiaddr)
    await waitFor(
      () =>
        victims.every((x) => admitted.authenticatedPeers().some((p) => p.toString() === x.peerId)) &&
        admitted.topicPeers(ROUND_TOPICS.jobs).some((p) => p.toString() === v.peerId) &&
        stranger0.topicPeers(ROUND_TOPICS.jobs).some((p) => p.toString() === v.peerId),
      'the attackers see the victims on the jobs topic',
    )
    const spam = async (node: VainNode, i: number) => {
      const spec = JobSpecSchema.parse({
        name: `spam-${i}`,
        architecture: mlp(784, [32], 10),
        initialModel: bombCid.toString(),
        dataset: { name: 'mnist' },
        strategy: { name: 'fedavg' },
        aggregator: { name: 'mean' },
        codec: { name: 'int8' },
        rounds: 1000,
        // the victim tries to load the model for half of it, then reports the round failed
        roundDeadlineMs: 10_000,
        minUpdates: 1,
        committeeSize: 1,
        local: { epochs: 1, batchSize: 32, lr: 0.05 },
        maxUpdateBytes: 256 * MiB,
        participants: { aggregators: victims.map((x) => x.peerId) },
      } satisfies JobSpecInput)
      const creatorId = node.peerId.toString()
      const createdAt = Date.now() + i
      const job = await signRoundMessage(
        'job',
        {
          v: ROUND_PROTOCOL_VERSION,
          jobId: computeJobId(spec, creatorId, createdAt),
          spec,
          creator: creatorId,
          createdAt,
        },
        (d) => node.sign(d),
      )
      await node.publish(ROUND_TOPICS.jobs, job.envelope)
      return job.jobId
    }
    const sizeRefusal = /is (at least )?\d+ bytes, expected \d+/
    const strangerJobs = new Set<string>()
    const admittedJobs = new Set<string>()
    const joinedOf = (set: Set<string>) =>
      v.lines.filter((l) => l.msg === 'joined job' && [...set].some((id) => id.startsWith(String(l.job)))).length
    const { grew } = await underAttack('(a, d) 300 + 40 gossiped jobs, 1.5 TiB model', async (signal, delivered) => {
      for (let i = 0; i < 300; i++) strangerJobs.add(await spam(stranger0, i))
      // the admitted creator: 40 jobs, 10 times the cap
      for (let i = 0; i < 40; i++) admittedJobs.add(await spam(admitted, i))
      // the admitted creator's jobs the victim took on tried to load their model, and refused it
      await waitFor(
        () =>
          joinedOf(admittedJobs) >= 4 &&
          v.lines.some((l) => l.msg === 'round failed' && sizeRefusal.test(String(l.reason))),
        'the victim refuses the model from its manifest',
      )
      delivered()
      // gossip more while the honest rounds go on
      for (let i = 300; !signal.aborted && i < 600; i++) {
        strangerJobs.add(await spam(stranger0, i))
        await new Promise((r) => setTimeout(r, 20))
      }
    })
    const running = (await getJson(`${v.api}/jobs`)) as string[]
    // policy (jobs.accept): not one job of the fresh key is taken on
    expect(running.filter((id) => strangerJobs.has(id))).toEqual([])
    expect(joinedOf(strangerJobs)).toBe(0)
    // caps (4 per creator): of the admitted creator's 40, exactly 4
    expect(running.filter((id) => admittedJobs.has(id))).toHaveLength(4)
    expect(joinedOf(admittedJobs)).toBe(4)
    // the model size check: its manifest was fetched, not one chunk of it; and the manifest, far
    // longer than any manifest of the job's model, was refused from its length, never decoded
    expect(asked.manifest).toBeGreaterThan(0)
    expect(asked.chunk).toBe(0)
    const refusals = v.lines.filter((l) => l.msg === 'round failed' && sizeRefusal.test(String(l.reason)))
    for (const l of refusals) expect(String(l.reason)).toMatch(/is at least \d+ bytes/)
    expect(grew).toBeLessThan(RSS_BOUND)
    // end the 4 admitted jobs here, so they do not weigh on the next attacks
    const token = readFileSync(join(root, 'victim0', 'api-token'), 'utf8').trim()
    for (const id of running.filter((id) => admittedJobs.has(id))) {
      await fetch(`${v.api}/jobs/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
    }
  })

  it('(b) 256 MiB updates for an unknown job, declaring 256 MiB, or with a forged header are refused unread', async () => {
    const v = victims[0] as Victim
    const a = await stranger()
    const self = a.peerId.toString()
    const honestTrainer = (victims[1] as Victim).peerId
    const { model } = await honestStatus(v)
    let produced = 0
    const outcomes: Array<{ kind: string; remoteName: string | undefined; chunks: number }> = []
    /** 256 MiB streamed from a generator; counts the chunks the sender was let to produce. */
    async function* stream256(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 256; i++) {
        produced++
        yield noise
      }
    }
    const send = async (kind: string, fields: Record<string, unknown>, signer: VainNode) => {
      const header = await signRoundMessage('update', fields as never, (d) => signer.sign(d))
      produced = 0
      const err = (await a.sendPayload(peerIdFromString(v.peerId), UPDATE_PROTOCOL, header.envelope, stream256()).then(
        () => undefined,
        (e: unknown) => e,
      )) as { remoteName?: string; message?: string } | undefined
      outcomes.push({ kind, remoteName: err?.remoteName, chunks: produced })
    }
    const base = {
      v: 1,
      round: 0,
      baseModel: model,
      trainer: self,
      numSamples: 100,
      payloadHash: sha256hex(noise),
    }
    const { grew } = await underAttack('(b) 256 MiB update streams', async (signal, delivered) => {
      for (let pass = 0; pass === 0 || !signal.aborted; pass++) {
        await send('unknown job', { ...base, jobId: 'cd'.repeat(32), payloadBytes: 256 * MiB }, a)
        const { round } = await honestStatus(v)
        await send('declares 256 MiB', { ...base, jobId: honestJob, round, payloadBytes: 256 * MiB }, a)
        // within the size, for the running round, naming an honest trainer it is not (its signature is the attacker's)
        await send(
          'forged header',
          { ...base, jobId: honestJob, round, payloadBytes: MAX_UPDATE, trainer: honestTrainer },
          a,
        )
        if (pass === 0) delivered()
      }
    })
    for (const o of outcomes) {
      // the sender is stopped by the refusal: far fewer than the 256 chunks are ever produced
      expect(o.chunks, o.kind).toBeLessThan(32)
      expect(o.remoteName, o.kind).toBeDefined()
    }
    expect(outcomes.filter((o) => o.kind === 'unknown job').map((o) => o.remoteName)).toEqual(
      outcomes.filter((o) => o.kind === 'unknown job').map(() => 'StaleUpdateError'),
    )
    expect(
      outcomes.filter((o) => o.kind === 'declares 256 MiB').every((o) => o.remoteName === 'RejectedUpdateError'),
    ).toBe(true)
    expect(outcomes.filter((o) => o.kind === 'forged header').every((o) => o.remoteName === 'ForgedMessageError')).toBe(
      true,
    )
    // header-first admission: without it, one 256 MiB update alone is the whole bound
    expect(grew).toBeLessThan(RSS_BOUND)
  })

  it('(c) early updates from 10 fresh identities, 16 streams each, for the next rounds and far-future rounds: refused unread, bounded', async () => {
    const v = victims[0] as Victim
    const identities = await Promise.all(Array.from({ length: 10 }, () => stranger()))
    const payload = new Uint8Array(MAX_UPDATE)
    for (let o = 0; o < MAX_UPDATE; o += MiB) payload.set(noise, o)
    const payloadHash = sha256hex(payload)
    const tally = new Map<string, number>()
    const count = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1)
    const { grew } = await underAttack('(c) early updates, 10 identities x 16 streams', async (signal, delivered) => {
      let first = true
      while (first || !signal.aborted) {
        // aimed at the rounds just ahead of the victim (a round lasts about a second here) and far ahead
        const { round, model } = await honestStatus(v)
        await Promise.all(
          identities.flatMap((node) =>
            Array.from({ length: 16 }, async (_, k) => {
              const ahead = k % 4 === 3 ? 1000 : 1 + (k % 4)
              const header = await signRoundMessage(
                'update',
                {
                  v: 1,
                  jobId: honestJob as string,
                  round: round + ahead,
                  baseModel: model,
                  trainer: node.peerId.toString(),
                  numSamples: 100,
                  payloadHash,
                  payloadBytes: MAX_UPDATE,
                },
                (d) => node.sign(d),
              )
              const err = (await node
                .sendPayload(peerIdFromString(v.peerId), UPDATE_PROTOCOL, header.envelope, payload)
                .then(
                  () => undefined,
                  (e: unknown) => e,
                )) as { remoteName?: string; name?: string } | undefined
              count(
                `${ahead < 1000 ? 'next rounds' : 'far future'}: ${err === undefined ? 'taken' : (err.remoteName ?? err.name)}`,
              )
              // refused by the transport (rate limits, a ban): do not spin
              if (err?.remoteName === undefined) await new Promise((r) => setTimeout(r, 50))
            }),
          ),
        )
        if (first) delivered()
        first = false
      }
    })
    figures.push(`(c) outcomes: ${JSON.stringify(Object.fromEntries(tally))}`)
    const taken = [...tally].filter(([k]) => k.endsWith(': taken'))
    // early-update admission: a stranger's update for a later round is refused on its header (the
    // next rounds do not expect it as a trainer; far-future rounds are never held), never read
    expect(taken).toEqual([])
    for (const [k] of tally) {
      expect(k).toMatch(/: (RejectedUpdateError|StaleUpdateError|RateLimitedError|StreamClosedError|DialError|Error)$/)
    }
    expect(tally.get('next rounds: RejectedUpdateError') ?? 0).toBeGreaterThan(0)
    // early buffer and update reads bounded (64 MiB per job, reserved before a payload is read)
    expect(grew).toBeLessThan(RSS_BOUND)
  })

  it('(e) a request flood from 10 fresh identities on /vain/job-latest: the shared budget holds, known peers are served', async () => {
    const v = victims[0] as Victim
    const identities = await Promise.all(Array.from({ length: 10 }, () => stranger()))
    const target = peerIdFromString(v.peerId)
    const tally = { served: 0, refusedShared: 0, refusedOwn: 0, failed: 0 }
    const known = { served: 0, rateLimited: 0, slow: 0 }
    let floodMs = 0
    const cpuT0 = process.cpuUsage()
    const { grew } = await underAttack('(e) request flood, 10 identities x 64 streams', async (signal, delivered) => {
      const t0 = Date.now()
      const loops = identities.flatMap((node) =>
        Array.from({ length: 64 }, async () => {
          while (!signal.aborted) {
            try {
              await node.request(target, LATEST_PROTOCOL, { jobId: honestJob as string })
              tally.served++
            } catch (err) {
              if (err instanceof RateLimitedError) {
                if (/not yet known/.test(err.message)) tally.refusedShared++
                else tally.refusedOwn++
              } else {
                tally.failed++
                await new Promise((r) => setTimeout(r, 10))
              }
            }
          }
        }),
      )
      // a known peer (the honest creator, connected long before) asks the victim meanwhile
      const honest = (async () => {
        while (!signal.aborted) {
          try {
            await creator.node.request(target, LATEST_PROTOCOL, { jobId: honestJob as string })
            known.served++
          } catch (err) {
            // refused for rate, or not answered in time (the victim's 2 cores are busy answering the flood)
            if (err instanceof RateLimitedError) known.rateLimited++
            else known.slow++
          }
          // the flood is in full swing (a request per stream answered), and the honest peer got an answer
          if (known.served >= 1 && tally.served + tally.refusedShared + tally.refusedOwn + tally.failed >= 640)
            delivered()
          await new Promise((r) => setTimeout(r, 100))
        }
      })()
      await Promise.all([...loops, honest])
      floodMs = Date.now() - t0
    })
    const cpu = process.cpuUsage(cpuT0)
    figures.push(`(e) this process (attackers, creator): cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`)
    figures.push(
      `(e) flood over ${(floodMs / 1000).toFixed(1)} s: ${JSON.stringify(tally)}; known peer ${JSON.stringify(known)}`,
    )
    // the shared per-protocol budget (default 1,000 burst + 500/s): the identities together are
    // served no more, however many they are (newcomers share its unreserved half until they have
    // been connected 10 s; a 2-core machine may answer fewer than it allows)
    expect(tally.served).toBeLessThanOrEqual(1000 + (500 * floodMs) / 1000)
    // the share of the budget kept for known peers: the honest creator is never refused for rate
    // (its answers may be slow on a busy machine: SECURITY.md, "not yet held")
    expect(known.rateLimited).toBe(0)
    expect(known.served).toBeGreaterThanOrEqual(1)
    expect(grew).toBeLessThan(RSS_BOUND)
  })
})
