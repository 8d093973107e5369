#!/usr/bin/env node
// Prints a job spec with its committee and trainers filled in: the peer ids of the nodes whose
// REST APIs are given. A network without a chain draws each round's committee from the job's
// `participants.aggregators`, and a round closes as soon as every listed trainer's update is in.
// Waits (up to 120 s) until every node answers and all of them are connected to each other, so the
// job's announcement reaches them all.
//
//   node examples/with-participants.mjs JOB.json API_URL... > job-with-peers.json
import { readFile } from 'node:fs/promises'

const [file, ...apis] = process.argv.slice(2)
if (file === undefined || apis.length === 0) {
  process.stderr.write('usage: node examples/with-participants.mjs JOB.json API_URL [API_URL...]\n')
  process.exit(2)
}
const spec = JSON.parse(await readFile(file, 'utf8'))
const get = async (api, path) => {
  const res = await fetch(new URL(path, api))
  if (!res.ok) throw new Error(`${api}${path}: HTTP ${res.status}`)
  return res.json()
}
const end = Date.now() + 120_000
for (;;) {
  try {
    const ids = await Promise.all(apis.map(async (api) => (await get(api, '/api/status')).peerId))
    const connected = await Promise.all(
      apis.map(async (api, i) => {
        const peers = await get(api, '/api/peers')
        const seen = new Set(peers.filter((p) => p.authenticated).map((p) => p.peerId))
        return ids.every((id, j) => j === i || seen.has(id))
      }),
    )
    if (connected.every(Boolean)) {
      spec.participants = { aggregators: ids, trainers: ids }
      process.stdout.write(`${JSON.stringify(spec, null, 2)}\n`)
      process.exit(0)
    }
  } catch {
    // a node not up yet
  }
  if (Date.now() > end) {
    process.stderr.write(`the nodes at ${apis.join(', ')} did not all answer and meet within 120 s\n`)
    process.exit(1)
  }
  await new Promise((r) => setTimeout(r, 500))
}
