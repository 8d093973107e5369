/**
 * How the node and its logs show amounts and addresses.
 * @module
 */
import { formatEther } from 'viem'

/**
 * An amount of VAIN (token wei) for people: at most 4 decimals, trailing zeros dropped.
 *
 * @example
 * ```ts
 * formatVain(12_500_000_000_000_000_000n) // '12.5 VAIN'
 * ```
 */
export function formatVain(wei: bigint): string {
  const [whole, frac = ''] = formatEther(wei).split('.')
  const f = frac.slice(0, 4).replace(/0+$/, '')
  return `${whole}${f === '' ? '' : `.${f}`} VAIN`
}

/**
 * An address shortened for a log line.
 *
 * @example
 * ```ts
 * shortAddress('0x70997970C51812dc3A010C7d01b50e0d17dc79C8') // '0x7099…79C8'
 * ```
 */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`
}
