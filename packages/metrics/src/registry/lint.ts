/**
 * Make an exposition pass `promtool check metrics`. Two kinds of names that libp2p's and
 * prom-client's own metrics use fail its lint, and are rewritten here (ours follow it already):
 *
 * - a gauge (or other non-counter) named `…_total`: the suffix is dropped
 *   (`libp2p_protocol_streams_total` → `libp2p_protocol_streams`), or `…_all` where that name
 *   is taken (`nodejs_active_handles_total` → `nodejs_active_handles_all`);
 * - a family in `…_milliseconds`: renamed `…_seconds` and converted (values, `le` bounds and
 *   `_sum` divided by 1000; `_count` kept).
 */
export function lintExposition(text: string): string {
  const lines = text.split('\n')
  // family name → [new name, convert ms]
  const renames = new Map<string, [string, boolean]>()
  const existing = new Set<string>()
  for (const line of lines) {
    const m = /^# TYPE (\S+)/.exec(line)
    if (m !== null) existing.add(m[1] as string)
  }
  for (const line of lines) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line)
    if (m === null) continue
    const [, name, type] = m as unknown as [string, string, string]
    let next = name
    let ms = false
    if (next.includes('_milliseconds')) {
      next = next.replace('_milliseconds', '_seconds')
      ms = true
    }
    if (type !== 'counter' && next.endsWith('_total')) {
      next = next.slice(0, -'_total'.length)
      // a family of that name exists already (nodejs_active_handles has both): `…_all`
      // or would end in a suffix reserved for histograms and summaries: `…_all`
      if (existing.has(next) || /_(bucket|count|sum)$/.test(next)) next = `${next}_all`
    }
    if (next !== name) renames.set(name, [next, ms])
  }
  if (renames.size === 0) return text
  const families = [...renames.keys()].sort((a, b) => b.length - a.length)
  const out: string[] = []
  for (const line of lines) {
    const meta = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line)
    if (meta !== null) {
      const r = renames.get(meta[2] as string)
      out.push(r === undefined ? line : `# ${meta[1]} ${r[0]}${meta[3]}`)
      continue
    }
    const family = line.startsWith('#')
      ? undefined
      : families.find((f) => line.startsWith(f) && /^[{ _]/.test(line.charAt(f.length)))
    if (family === undefined) {
      out.push(line)
      continue
    }
    const [newName, ms] = renames.get(family) as [string, boolean]
    const rest = line.slice(family.length)
    const sm = /^(_bucket|_sum|_count)?(\{[^}]*\})?\s+(\S+)(.*)$/.exec(rest)
    if (sm === null || !ms) {
      out.push(newName + rest)
      continue
    }
    const [, suffix = '', labels = '', value, tail] = sm as unknown as [
      string,
      string | undefined,
      string | undefined,
      string,
      string,
    ]
    const div = (v: string) => (/^[+-]?Inf$|^NaN$/.test(v) ? v : String(Number(v) / 1000))
    const newLabels =
      suffix === '_bucket' ? labels.replace(/le="([^"]+)"/, (_m, le: string) => `le="${div(le)}"`) : labels
    const newValue = suffix === '_count' || suffix === '_bucket' ? value : div(value)
    out.push(`${newName}${suffix}${newLabels} ${newValue}${tail}`)
  }
  return out.join('\n')
}
