/**
 * A CPU profile of this process, taken with the inspector and summed up as self time by package
 * (node_modules/<pkg>, or the file under packages/) and by function: where a benchmark's CPU goes.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

export interface ProfileSummary {
  /** Sampled milliseconds in all. */
  totalMs: number
  /** `[share %, name]`, largest first. */
  byPackage: Array<[number, string]>
  byFunction: Array<[number, string]>
}

export class CpuProfiler {
  private session: Session | undefined

  async start(): Promise<void> {
    this.session = new Session()
    this.session.connect()
    await this.session.post('Profiler.enable')
    await this.session.post('Profiler.setSamplingInterval', { interval: 500 })
    await this.session.post('Profiler.start')
  }

  /** Stop, optionally write the raw `.cpuprofile` (for Chrome DevTools), and summarise. */
  async stop(path?: string, top = 15): Promise<ProfileSummary> {
    const session = this.session
    if (session === undefined) throw new Error('profiler not started')
    this.session = undefined
    const { profile } = await session.post('Profiler.stop')
    session.disconnect()
    if (path !== undefined) writeFileSync(path, JSON.stringify(profile))
    const dt = new Map<number, number>()
    const samples = profile.samples ?? []
    const deltas = profile.timeDeltas ?? []
    for (let i = 0; i < samples.length; i++) {
      dt.set(samples[i] as number, (dt.get(samples[i] as number) ?? 0) + (deltas[i] ?? 0))
    }
    const byPkg = new Map<string, number>()
    const byFn = new Map<string, number>()
    let total = 0
    for (const node of profile.nodes) {
      const us = dt.get(node.id) ?? 0
      total += us
      const url = node.callFrame.url
      const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
      const pkg =
        m?.[1] ?? (url === '' ? `(${node.callFrame.functionName || 'native'})` : url.replace(/.*\/packages\//, ''))
      byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
      const file = url.replace(/.*\//, '')
      const fn = `${node.callFrame.functionName || '(anon)'} ${pkg}${m === null ? '' : `/${file}`}`
      byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    }
    const rank = (m: Map<string, number>): Array<[number, string]> =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([name, us]) => [(100 * us) / Math.max(1, total), name])
    return { totalMs: total / 1000, byPackage: rank(byPkg), byFunction: rank(byFn) }
  }
}

/** A summary as indented lines. */
export function formatSummary(s: ProfileSummary): string {
  const lines = (xs: Array<[number, string]>) => xs.map(([pct, name]) => `    ${pct.toFixed(1)} % ${name}`).join('\n')
  return `  sampled ${s.totalMs.toFixed(0)} ms; self time by package:\n${lines(s.byPackage)}\n  by function:\n${lines(s.byFunction)}`
}
