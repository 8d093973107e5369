#!/usr/bin/env node
// Prints a running node's first listen address (/ip4/…/p2p/<peer id>), to give another node as
// --bootstrap. Waits up to 120 s for the node's REST API to answer.
//
//   node examples/bootstrap-address.mjs http://127.0.0.1:8081
const api = process.argv[2]
if (api === undefined) {
  process.stderr.write('usage: node examples/bootstrap-address.mjs API_URL\n')
  process.exit(2)
}
const end = Date.now() + 120_000
for (;;) {
  try {
    const res = await fetch(new URL('/api/status', api))
    const status = await res.json()
    if (Array.isArray(status.multiaddrs) && status.multiaddrs.length > 0) {
      process.stdout.write(`${status.multiaddrs[0]}\n`)
      process.exit(0)
    }
  } catch {
    // not up yet
  }
  if (Date.now() > end) {
    process.stderr.write(`no node answers at ${api}\n`)
    process.exit(1)
  }
  await new Promise((r) => setTimeout(r, 500))
}
