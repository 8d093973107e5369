/**
 * The address range a connection comes from, for budgets that identities cannot multiply: a new
 * key pair is free, a new address range is not. IPv4 groups by /24 and IPv6 by /48 by default;
 * every loopback address (127.0.0.0/8, ::1) is the one range `loopback`.
 * @module
 */
import type { Multiaddr } from '@multiformats/multiaddr'

/** Prefix lengths of {@link addressRangeOf}. */
export interface AddressRangeOptions {
  /** IPv4 prefix length (0–32). Default 24. */
  ipv4PrefixBits?: number
  /** IPv6 prefix length (0–128). Default 48. */
  ipv6PrefixBits?: number
}

/** The range of connections whose remote address carries no IP (e.g. an in-memory transport). */
export const UNKNOWN_RANGE = 'unknown'
/** The range of every loopback address. */
export const LOOPBACK_RANGE = 'loopback'

function parseIPv4(ip: string): number[] | undefined {
  const parts = ip.split('.')
  if (parts.length !== 4) return undefined
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN))
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined
}

/** 16 bytes of an IPv6 address (with `::` and an embedded IPv4 tail), or undefined. */
function parseIPv6(raw: string): number[] | undefined {
  const ip = raw.split('%')[0] as string // drop a zone id
  const halves = ip.split('::')
  if (halves.length > 2) return undefined
  const groups = (s: string): number[] | undefined => {
    if (s === '') return []
    const out: number[] = []
    const parts = s.split(':')
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p)
        if (v4 === undefined) return undefined
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number))
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16))
      else return undefined
    }
    return out
  }
  const head = groups(halves[0] as string)
  const tail = halves.length === 2 ? groups(halves[1] as string) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail]
  return words.flatMap((w) => [w >> 8, w & 0xff])
}

function maskBytes(bytes: number[], bits: number): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    return b & ((0xff << (8 - keep)) & 0xff)
  })
}

function ipv4Range(bytes: number[], bits: number): string {
  if (bytes[0] === 127) return LOOPBACK_RANGE
  return `${maskBytes(bytes, bits).join('.')}/${bits}`
}

function checkBits(bits: number, max: number, name: string): number {
  if (!(Number.isInteger(bits) && bits >= 0 && bits <= max)) {
    throw new RangeError(`${name} must be an integer between 0 and ${max} (got ${bits})`)
  }
  return bits
}

/**
 * The range of an IP address as a string key: `a.b.c.0/24` for IPv4, `2001:db8:1::/48` for
 * IPv6, `loopback` for any loopback address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
 * counts as its IPv4 address. Anything unparsable is {@link UNKNOWN_RANGE}.
 *
 * @throws {RangeError} for a prefix length out of range
 * @example
 * ```ts
 * ipRangeOf('203.0.113.7') // '203.0.113.0/24'
 * ipRangeOf('2001:db8:1:2::5') // '2001:db8:1::/48'
 * ```
 */
export function ipRangeOf(ip: string, options: AddressRangeOptions = {}): string {
  const v4Bits = checkBits(options.ipv4PrefixBits ?? 24, 32, 'ipv4PrefixBits')
  const v6Bits = checkBits(options.ipv6PrefixBits ?? 48, 128, 'ipv6PrefixBits')
  const v4 = parseIPv4(ip)
  if (v4 !== undefined) return ipv4Range(v4, v4Bits)
  const v6 = parseIPv6(ip)
  if (v6 === undefined) return UNKNOWN_RANGE
  if (v6.slice(0, 15).every((b) => b === 0) && v6[15] === 1) return LOOPBACK_RANGE
  if (v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) {
    return ipv4Range(v6.slice(12), v4Bits)
  }
  const masked = maskBytes(v6, v6Bits)
  const words: string[] = []
  for (let i = 0; i < Math.ceil(v6Bits / 16); i++) {
    words.push((((masked[2 * i] as number) << 8) | (masked[2 * i + 1] as number)).toString(16))
  }
  const prefix = words.length === 8 ? words.join(':') : `${words.join(':')}::`
  return `${words.length === 0 ? '::' : prefix}/${v6Bits}`
}

/**
 * The range of a connection's remote multiaddr (its first `ip4`/`ip6` component; a relayed
 * connection counts as the relay's range). See {@link ipRangeOf}.
 *
 * @example
 * ```ts
 * addressRangeOf(connection.remoteAddr) // '198.51.100.0/24'
 * addressRangeOf(multiaddr('/ip6/2001:db8:aa:bb::1/tcp/4001')) // '2001:db8:aa::/48'
 * ```
 */
export function addressRangeOf(addr: Multiaddr | undefined, options: AddressRangeOptions = {}): string {
  if (addr === undefined) return UNKNOWN_RANGE
  for (const c of addr.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value !== undefined) return ipRangeOf(c.value, options)
  }
  return UNKNOWN_RANGE
}
