import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { lintExposition } from '../src/index.js'

const text = `# HELP libp2p_protocol_streams_total Open streams
# TYPE libp2p_protocol_streams_total gauge
libp2p_protocol_streams_total{protocol="/ipfs/ping/1.0.0"} 2
# HELP nodejs_active_handles Handles by type
# TYPE nodejs_active_handles gauge
nodejs_active_handles{type="Socket"} 3
# HELP nodejs_active_handles_total All handles
# TYPE nodejs_active_handles_total gauge
nodejs_active_handles_total 3
# HELP dht_query_time_milliseconds Query time
# TYPE dht_query_time_milliseconds histogram
dht_query_time_milliseconds_bucket{le="10"} 1
dht_query_time_milliseconds_bucket{le="100"} 3
dht_query_time_milliseconds_bucket{le="+Inf"} 4
dht_query_time_milliseconds_sum 350
dht_query_time_milliseconds_count 4
# HELP vain_updates_accepted_total Updates
# TYPE vain_updates_accepted_total counter
vain_updates_accepted_total 5
`

describe('lintExposition', () => {
  it('renames what promtool rejects and converts milliseconds to seconds; counters are untouched', () => {
    const out = lintExposition(text)
    expect(out).toContain('libp2p_protocol_streams{protocol="/ipfs/ping/1.0.0"} 2')
    expect(out).toContain('nodejs_active_handles_all 3')
    expect(out).toContain('nodejs_active_handles{type="Socket"} 3')
    expect(out).toContain('dht_query_time_seconds_bucket{le="0.01"} 1')
    expect(out).toContain('dht_query_time_seconds_bucket{le="0.1"} 3')
    expect(out).toContain('dht_query_time_seconds_bucket{le="+Inf"} 4')
    expect(out).toContain('dht_query_time_seconds_sum 0.35')
    expect(out).toContain('dht_query_time_seconds_count 4')
    expect(out).toContain('vain_updates_accepted_total 5')
    expect(spawnSync('promtool', ['check', 'metrics'], { input: text }).status).not.toBe(0)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: out, encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)
  })
})
