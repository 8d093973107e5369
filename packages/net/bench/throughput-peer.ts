/**
 * The receiving side of the throughput benchmark, in its own process (as a real peer would be):
 * a vAIn node that consumes payloads, and a raw TCP sink for the baseline. Prints its addresses
 * as one JSON line, then serves until stdin closes. The first argument (JSON) sets `encryption`
 * and `muxer`.
 */
import { createServer } from 'node:net'
import { createNode, type NodeConfigInput } from '../src/index.js'
import { benchBlob } from './protocols.js'

// argv[2]: optional JSON with `encryption` and `muxer` (the variant under test; the sender uses the same)
const variant = JSON.parse(process.argv[2] ?? '{}') as Pick<NodeConfigInput, 'encryption' | 'muxer'>
const node = await createNode({
  profile: 'loopback',
  discovery: { dht: false, pex: false },
  gossip: { enabled: false },
  ...variant,
})
await node.start()
await node.handlePayload(benchBlob, async (_m, body) => {
  for await (const _ of body) {
    // consume
  }
})
const sink = createServer((socket) => {
  let received = 0
  let expected = -1
  socket.on('data', (d: Buffer) => {
    if (expected < 0) {
      expected = Number(d.readBigUInt64BE(0))
      received += d.byteLength - 8
    } else received += d.byteLength
    if (received >= expected) socket.end('k')
  })
})
sink.listen(0, '127.0.0.1', () => {
  const port = (sink.address() as { port: number }).port
  process.stdout.write(`${JSON.stringify({ multiaddr: node.multiaddrs[0]?.toString(), tcpPort: port })}\n`)
})
process.stdin.resume()
process.stdin.on('end', () => {
  sink.close()
  void node.stop().then(() => process.exit(0))
})
