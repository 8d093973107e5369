/**
 * The pairwise-distance kernel as WebAssembly SIMD (internal), assembled here from its opcodes
 * (no build step, no binary file). Lanes are partners: for two rows `i, i + 1` and eight partners
 * `j..j+7`, eight f64x2 accumulators each add (b_k − a_k)² over the coordinates of a block in
 * coordinate order — per lane exactly the float64 operations of the scalar loop (a negated
 * difference squares to the same value), so the distances are the same bits. No FMA (relaxed
 * SIMD is not used). When WebAssembly SIMD is unavailable `wasmDistances()` returns undefined
 * and the caller keeps its JavaScript loop.
 * @module
 */

/** LEB128 of an unsigned integer. */
function uleb(x: number): number[] {
  const out: number[] = []
  do {
    let b = x & 0x7f
    x >>>= 7
    if (x !== 0) b |= 0x80
    out.push(b)
  } while (x !== 0)
  return out
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))]

// opcodes
const BLOCK = 0x02
const LOOP = 0x03
const VOID = 0x40
const BR = 0x0c
const BR_IF = 0x0d
const END = 0x0b
const GET = 0x20
const SET = 0x21
const TEE = 0x22
const I32_CONST = 0x41
const I32_GE_S = 0x4e
const I32_ADD = 0x6a
const I32_SUB = 0x6b
const I32_MUL = 0x6c
const I32_AND = 0x71
const I32_SHL = 0x74
const simd = (op: number, ...rest: number[]) => [0xfd, ...uleb(op), ...rest]
const V128_LOAD = (offset: number) => simd(0x00, 0, ...uleb(offset))
const V128_LOAD64_SPLAT = simd(0x0a, 0, 0)
const V128_STORE = (offset: number) => simd(0x0b, 0, ...uleb(offset))
const V128_ZERO = simd(0x0c, ...new Array(16).fill(0))
const F64X2_ADD = simd(0xf0)
const F64X2_SUB = simd(0xf1)
const F64X2_MUL = simd(0xf2)

/**
 * dist(nReal, nPad, B, T, D): T is B rows of nPad float64 (row k holds coordinate k of every
 * update; nPad a multiple of 8), D is nPad × nPad float64. For every pair of rows (i, i + 1),
 * i even and i < nReal − 1, and every partner j from (i + 1) rounded down to a multiple of 8 up to
 * nPad, adds Σ_k (T[k][j] − T[k][i])² (in k order) to D[i][j], and likewise for row i + 1:
 * 2 rows × 8 partners = 8 f64x2 accumulators, so the additions' latency overlaps.
 */
function kernel(): number[] {
  // params 0 nReal, 1 nPad, 2 B, 3 T, 4 D; i32 locals 5 i, 6 j, 7 stride, 8 px, 9 pb, 10 k, 11 pd;
  // v128 locals 12..19 accumulators (row i: 12..15, row i + 1: 16..19), 20 x0, 21 x1, 22 b, 23 t
  const [nReal, nPad, B, T, D, i, j, stride, px, pb, k, pd] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
  const [x0, x1, bv, t] = [20, 21, 22, 23]
  const c = (v: number) => [I32_CONST, ...sleb(v)]
  const step = (x: number, a: number) => [
    GET,
    bv,
    GET,
    x,
    ...F64X2_SUB,
    TEE,
    t,
    GET,
    t,
    ...F64X2_MUL,
    GET,
    a,
    ...F64X2_ADD,
    SET,
    a,
  ]
  const perK: number[] = [GET, px, ...V128_LOAD64_SPLAT, SET, x0, GET, px, ...simd(0x0a, 0, 8), SET, x1]
  for (let v = 0; v < 4; v++)
    perK.push(GET, pb, ...V128_LOAD(16 * v), SET, bv, ...step(x0, 12 + v), ...step(x1, 16 + v))
  const zero: number[] = []
  for (let a = 12; a < 20; a++) zero.push(...V128_ZERO, SET, a)
  const store: number[] = []
  for (let v = 0; v < 4; v++) {
    store.push(GET, pd, GET, pd, ...V128_LOAD(16 * v), GET, 12 + v, ...F64X2_ADD, ...V128_STORE(16 * v))
  }
  store.push(GET, pd, GET, stride, I32_ADD, SET, pd)
  for (let v = 0; v < 4; v++) {
    store.push(GET, pd, GET, pd, ...V128_LOAD(16 * v), GET, 16 + v, ...F64X2_ADD, ...V128_STORE(16 * v))
  }
  const body = [
    GET,
    nPad,
    ...c(3),
    I32_SHL,
    SET,
    stride,
    ...c(0),
    SET,
    i,
    BLOCK,
    VOID,
    LOOP,
    VOID,
    // while (i < nReal - 1)
    GET,
    i,
    GET,
    nReal,
    ...c(1),
    I32_SUB,
    I32_GE_S,
    BR_IF,
    1,
    // j = (i + 1) & ~7
    GET,
    i,
    ...c(1),
    I32_ADD,
    ...c(-8),
    I32_AND,
    SET,
    j,
    BLOCK,
    VOID,
    LOOP,
    VOID,
    GET,
    j,
    GET,
    nPad,
    I32_GE_S,
    BR_IF,
    1,
    ...zero,
    GET,
    T,
    GET,
    i,
    ...c(3),
    I32_SHL,
    I32_ADD,
    SET,
    px,
    GET,
    T,
    GET,
    j,
    ...c(3),
    I32_SHL,
    I32_ADD,
    SET,
    pb,
    GET,
    B,
    SET,
    k,
    LOOP,
    VOID,
    ...perK,
    GET,
    px,
    GET,
    stride,
    I32_ADD,
    SET,
    px,
    GET,
    pb,
    GET,
    stride,
    I32_ADD,
    SET,
    pb,
    GET,
    k,
    ...c(1),
    I32_SUB,
    TEE,
    k,
    BR_IF,
    0,
    END,
    // D[i][j..j+7] += row i's accumulators, D[i+1][j..j+7] += row i + 1's
    GET,
    D,
    GET,
    i,
    GET,
    stride,
    I32_MUL,
    I32_ADD,
    GET,
    j,
    ...c(3),
    I32_SHL,
    I32_ADD,
    SET,
    pd,
    ...store,
    GET,
    j,
    ...c(8),
    I32_ADD,
    SET,
    j,
    BR,
    0,
    END,
    END,
    GET,
    i,
    ...c(2),
    I32_ADD,
    SET,
    i,
    BR,
    0,
    END,
    END,
    END,
  ]
  const locals = [2, 7, 0x7f, 12, 0x7b]
  const fn = [...locals, ...body]
  return [...uleb(fn.length), ...fn]
}

/** LEB128 of a signed 32-bit integer. */
function sleb(x: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = x & 0x7f
    x >>= 7
    if ((x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

function moduleBytes(): Uint8Array {
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...name('mem'), 2, 0, ...name('dist'), 0, 0]),
    ...section(10, [1, ...kernel()]),
  ])
}

/** The little of the WebAssembly API used here (the compiler's libs here do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: Record<string, unknown> }
}

interface Kernel {
  memory: WasmMemory
  dist: (nReal: number, nPad: number, B: number, T: number, D: number) => void
}

let kernelInstance: Kernel | null | undefined

function load(): Kernel | null {
  if (kernelInstance !== undefined) return kernelInstance
  try {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined) throw new Error('no WebAssembly')
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()))
    const exports = instance.exports as unknown as { mem: WasmMemory; dist: Kernel['dist'] }
    kernelInstance = { memory: exports.mem, dist: exports.dist }
  } catch {
    kernelInstance = null
  }
  return kernelInstance
}

/** Whether the WebAssembly SIMD kernel compiled on this runtime. */
export function simdAvailable(): boolean {
  return load() !== null
}

/** Set `disabled` to force the JavaScript loop instead of the SIMD kernel (the tests compare the two). */
export const simdState = { disabled: false }

/**
 * Pairwise squared distances of `updates` (all the same length) with the SIMD kernel, in blocks
 * of `block` coordinates, as an n×n float64 matrix; undefined when WebAssembly SIMD is unavailable
 * or disabled, or the kernel's memory would pass 1 GiB (about 11,000 updates). Checks finiteness while it transposes: on a non-finite value it calls `onBad`,
 * which must throw.
 */
export function wasmDistances(
  updates: readonly Float32Array[],
  d: number,
  block: number,
  onBad: () => never,
): Float64Array | undefined {
  if (simdState.disabled) return undefined
  const kernel = load()
  if (kernel === null) return undefined
  const n = updates.length
  const nPad = (n + 7) & ~7
  const tBytes = block * nPad * 8
  const dBytes = nPad * nPad * 8
  const need = tBytes + dBytes
  if (!ensureMemory(kernel.memory, need)) return undefined
  const T = new Float64Array(kernel.memory.buffer, 0, block * nPad)
  const W = new Float64Array(kernel.memory.buffer, tBytes, nPad * nPad)
  T.fill(0)
  W.fill(0)
  for (let start = 0; start < d; start += block) {
    const count = Math.min(block, d - start)
    const end = start + count
    let r = 0
    // v - v is 0 for finite v and NaN otherwise
    let bad = 0
    for (; r + 3 < n; r += 4) {
      const u0 = updates[r]!
      const u1 = updates[r + 1]!
      const u2 = updates[r + 2]!
      const u3 = updates[r + 3]!
      for (let s = start, o = r; s < end; s++, o += nPad) {
        const v0 = u0[s]!
        const v1 = u1[s]!
        const v2 = u2[s]!
        const v3 = u3[s]!
        bad += v0 - v0 + (v1 - v1) + (v2 - v2) + (v3 - v3)
        T[o] = v0
        T[o + 1] = v1
        T[o + 2] = v2
        T[o + 3] = v3
      }
    }
    for (; r < n; r++) {
      const u = updates[r]!
      for (let s = start, o = r; s < end; s++, o += nPad) {
        const v = u[s]!
        bad += v - v
        T[o] = v
      }
    }
    if (bad !== 0) onBad()
    kernel.dist(n, nPad, count, 0, tBytes)
  }
  const D = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = W[i * nPad + j]!
      D[i * n + j] = v
      D[j * n + i] = v
    }
  }
  return D
}

/** Comparators (lower index first) of Batcher's odd–even merge sort for `m` values. */
export function oddEvenMergeNetwork(m: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let p = 1; p < m; p *= 2) {
    for (let k = p; k >= 1; k = Math.floor(k / 2)) {
      for (let j = k % p; j <= m - 1 - k; j += 2 * k) {
        for (let i = 0; i <= Math.min(k - 1, m - j - k - 1); i++) {
          if (Math.floor((i + j) / (p * 2)) === Math.floor((i + j + k) / (p * 2))) out.push([i + j, i + j + k])
        }
      }
    }
  }
  return out
}

/**
 * Largest column the networks sort: a network has O(m log² m) comparators (≈ 2,900 for 128,
 * ≈ 25,000 for 1,000 values), unrolled into the module, against the O(m) of the JavaScript
 * quickselect; above this the JavaScript paths run.
 */
export const MAX_NETWORK_VALUES = 256

/** Grows `memory` to at least `bytes` (at most 1 GiB); false when it cannot. */
function ensureMemory(memory: WasmMemory, bytes: number): boolean {
  if (bytes > 2 ** 30) return false
  const have = memory.buffer.byteLength
  if (have >= bytes) return true
  try {
    memory.grow(Math.ceil((bytes - have) / 65536))
    return true
  } catch {
    return false
  }
}

/** Columns per block of {@link wasmSortColumns}. */
export const SORT_BLOCK = 512
/**
 * Float64s per row of that block: a 64-byte pad, so that the rows of one column do not all fall
 * into the same L1 cache set (a 4,096-byte stride would).
 */
export const SORT_ROW = SORT_BLOCK + 8

interface Sorter {
  memory: WasmMemory
  sort: (base: number, pairs: number) => void
}

const sorters = new Map<string, Sorter | null>()

/**
 * The comparators of {@link oddEvenMergeNetwork} that can affect the output positions `keep`
 * (walking backwards, a comparator matters when it writes a position that matters, and then both
 * its inputs matter): a selection network that puts the values of ranks `keep` in place.
 */
export function selectionNetwork(m: number, keep?: readonly number[]): Array<[number, number]> {
  const net = oddEvenMergeNetwork(m)
  if (keep === undefined) return net
  const needed = new Uint8Array(m)
  for (const k of keep) needed[k] = 1
  const out: Array<[number, number]> = []
  for (let c = net.length - 1; c >= 0; c--) {
    const [i, j] = net[c]!
    if (needed[i] === 1 || needed[j] === 1) {
      needed[i] = 1
      needed[j] = 1
      out.push([i, j])
    }
  }
  return out.reverse()
}

/**
 * A module whose `sort(base, pairs)` sorts, for `pairs` pairs of adjacent columns starting at byte
 * `base`, the `m` float64 values of each column (row r at byte offset r · SORT_ROW · 8) with the
 * odd–even merge network, two columns per f64x2 (pmin / pmax: a −0 and a +0 may swap signs, which
 * no caller can tell apart).
 */
function sorter(m: number, keep?: readonly number[]): Sorter | null {
  const key = `${m}:${keep?.join(',') ?? 'all'}`
  const cached = sorters.get(key)
  if (cached !== undefined) return cached
  let result: Sorter | null = null
  try {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined) throw new Error('no WebAssembly')
    // params 0 base, 1 pairs; v128 locals 2 a, 3 b
    const [base, pairs, a, b] = [0, 1, 2, 3]
    const body: number[] = [BLOCK, VOID, LOOP, VOID, GET, pairs, 0x45 /* i32.eqz */, BR_IF, 1]
    const row = SORT_ROW * 8
    for (const [x, y] of selectionNetwork(m, keep)) {
      body.push(GET, base, ...V128_LOAD(x * row), SET, a, GET, base, ...V128_LOAD(y * row), SET, b)
      body.push(GET, base, GET, a, GET, b, ...simd(0xf6), ...V128_STORE(x * row))
      body.push(GET, base, GET, a, GET, b, ...simd(0xf7), ...V128_STORE(y * row))
    }
    body.push(GET, base, I32_CONST, 16, I32_ADD, SET, base)
    body.push(GET, pairs, I32_CONST, 1, I32_SUB, SET, pairs, BR, 0, END, END, END)
    const fn = [1, 2, 0x7b, ...body]
    const bytes = Uint8Array.from([
      0x00,
      0x61,
      0x73,
      0x6d,
      0x01,
      0x00,
      0x00,
      0x00,
      ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 0]),
      ...section(3, [1, 0]),
      ...section(5, [1, 0, 1]),
      ...section(7, [2, ...name('mem'), 2, 0, ...name('sort'), 0, 0]),
      ...section(10, [1, ...uleb(fn.length), ...fn]),
    ])
    const instance = new wasm.Instance(new wasm.Module(bytes))
    const exports = instance.exports as unknown as { mem: WasmMemory; sort: Sorter['sort'] }
    result = { memory: exports.mem, sort: exports.sort }
  } catch {
    result = null
  }
  sorters.set(key, result)
  return result
}

/**
 * A SIMD column sorter for `m` values per column and a float64 view of its block
 * (`m` rows of SORT_ROW float64s, the first SORT_BLOCK of them columns); undefined when WebAssembly SIMD is unavailable or
 * disabled. Fill columns [0, count), call `sort(count)`, read the sorted columns back — or, with
 * `keep`, only the rows of those ranks (a pruned network: the other rows are left partly sorted).
 */
export function wasmSortColumns(
  m: number,
  keep?: readonly number[],
): { T: Float64Array; sort: (count: number) => void } | undefined {
  if (simdState.disabled || m < 2 || m > MAX_NETWORK_VALUES) return undefined
  const s = sorter(m, keep)
  if (s === null) return undefined
  if (!ensureMemory(s.memory, m * SORT_ROW * 8)) return undefined
  const T = new Float64Array(s.memory.buffer, 0, m * SORT_ROW)
  return { T, sort: (count: number) => s.sort(0, (count + 1) >> 1) }
}
