/**
 * Allocation-free order statistics on ranges of a Float64Array (internal): Hoare's FIND and
 * introsort (median-of-three quicksort with an insertion-sort base case and a heapsort fallback,
 * so adversarial inputs cannot force quadratic time). Values must not be NaN. Deterministic:
 * the same input gives the same comparisons and the same final arrangement.
 * @module
 */

function insertionSort(a: Float64Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i]!
    let j = i - 1
    while (j >= lo && a[j]! > v) {
      a[j + 1] = a[j]!
      j--
    }
    a[j + 1] = v
  }
}

function siftDown(a: Float64Array, lo: number, root: number, size: number): void {
  for (;;) {
    let child = 2 * root + 1
    if (child >= size) return
    if (child + 1 < size && a[lo + child + 1]! > a[lo + child]!) child++
    if (!(a[lo + child]! > a[lo + root]!)) return
    const t = a[lo + root]!
    a[lo + root] = a[lo + child]!
    a[lo + child] = t
    root = child
  }
}

function heapSort(a: Float64Array, lo: number, hi: number): void {
  const size = hi - lo
  for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(a, lo, i, size)
  for (let end = size - 1; end > 0; end--) {
    const t = a[lo]!
    a[lo] = a[lo + end]!
    a[lo + end] = t
    siftDown(a, lo, 0, end)
  }
}

/**
 * Partitions a[lo..hi) (hi - lo >= 3) around a median-of-three pivot; returns `p` such that
 * a[lo..p) <= pivot = a[p] <= a(p..hi).
 */
function partition(a: Float64Array, lo: number, hi: number): number {
  const mid = lo + ((hi - lo) >> 1)
  const last = hi - 1
  // order a[lo], a[mid], a[last]
  if (a[mid]! < a[lo]!) swap(a, mid, lo)
  if (a[last]! < a[lo]!) swap(a, last, lo)
  if (a[last]! < a[mid]!) swap(a, last, mid)
  // pivot = a[mid]; park it at last - 1
  swap(a, mid, last - 1)
  const pivot = a[last - 1]!
  let i = lo
  let j = last - 1
  for (;;) {
    while (a[++i]! < pivot) {}
    while (a[--j]! > pivot) {}
    if (i >= j) break
    swap(a, i, j)
  }
  swap(a, i, last - 1)
  return i
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!
  a[i] = a[j]!
  a[j] = t
}

/** Sorts a[lo..hi) ascending. */
export function sortRange(a: Float64Array, lo: number, hi: number): void {
  introsort(a, lo, hi, 2 * Math.ceil(Math.log2(hi - lo + 1)))
}

function introsort(a: Float64Array, lo: number, hi: number, depth: number): void {
  while (hi - lo > 16) {
    if (depth-- === 0) {
      heapSort(a, lo, hi)
      return
    }
    const p = partition(a, lo, hi)
    // recurse into the smaller side, loop on the larger
    if (p - lo < hi - p - 1) {
      introsort(a, lo, p, depth)
      lo = p + 1
    } else {
      introsort(a, p + 1, hi, depth)
      hi = p
    }
  }
  insertionSort(a, lo, hi)
}

/**
 * Rearranges a[lo..hi) so that a[k] holds the value it would hold if the range were sorted,
 * with a[lo..k) <= a[k] <= a(k..hi). Returns a[k]. Hoare's FIND with a median-of-three pivot
 * value (about twice as fast as a partition-and-recurse select on the ~100-value ranges the
 * coordinate-wise aggregators use); after too many rounds the remaining range is heap-sorted,
 * so crafted inputs cannot make it quadratic.
 */
export function selectRange(a: Float64Array, lo: number, hi: number, k: number): number {
  let l = lo
  let m = hi - 1
  let budget = 2 * Math.ceil(Math.log2(hi - lo + 1)) + 8
  while (l < m) {
    if (budget-- === 0) {
      heapSort(a, l, m + 1)
      return a[k]!
    }
    const x0 = a[l]!
    const x1 = a[k]!
    const x2 = a[m]!
    const x = Math.max(Math.min(x0, x1), Math.min(Math.max(x0, x1), x2)) // median of three
    let i = l
    let j = m
    do {
      while (a[i]! < x) i++
      while (x < a[j]!) j--
      if (i <= j) {
        const t = a[i]!
        a[i] = a[j]!
        a[j] = t
        i++
        j--
      }
    } while (i <= j)
    if (j < k) l = i
    if (k < i) m = j
  }
  return a[k]!
}

/**
 * Order statistics of the `m` values src[off..off+m) **without reordering them** (internal):
 * writes the value of rank `k` (0-based, ascending) to out[0] and, when `pair` is true, the value
 * of rank `k + 1` to out[1]. `a` and `b` are scratch arrays of at least `m` values.
 *
 * Quickselect whose partition pass is branch-free — every value is stored at both write heads
 * and only one head advances — so random data costs no mispredicted branches; it ping-pongs
 * between the scratch arrays and ends with an insertion sort of ≤ 16 values. The pivot is a
 * median of three (a ninther on the first pass); after 48 passes the rest is introsorted, so
 * crafted inputs cannot make it quadratic. The values returned are order statistics, so they
 * are the same numbers any correct selection or sort gives (`selectRange`, a full sort).
 */
export function orderStats(
  src: Float64Array,
  off: number,
  m: number,
  k: number,
  pair: boolean,
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
): void {
  let from = src
  let lo = off
  let n = m
  let to = a
  let budget = 48
  const extra = pair ? 1 : 0
  while (n > 16 && budget-- > 0) {
    const want = k + extra
    const last = lo + n - 1
    const mid = lo + (n >> 1)
    let p: number
    if (from === src && n >= 64) {
      const q = n >> 3
      p = median3(
        median3(from[lo]!, from[lo + q]!, from[lo + 2 * q]!),
        median3(from[mid - q]!, from[mid]!, from[mid + q]!),
        median3(from[last - 2 * q]!, from[last - q]!, from[last]!),
      )
    } else {
      p = median3(from[lo]!, from[mid]!, from[last]!)
    }
    // to[0..cl) < p <= to[cl..n)
    let cl = 0
    let ch = n - 1
    for (let i = lo; i <= last; i++) {
      const v = from[i]!
      const lt = Number(v < p)
      to[cl] = v
      to[ch] = v
      cl += lt
      ch += lt - 1
    }
    const other = to === a ? b : a
    if (want < cl) {
      lo = 0
      n = cl
    } else if (k >= cl && cl > 0) {
      k -= cl
      lo = cl
      n -= cl
    } else if (cl > 0) {
      // pair split by the pivot: rank k is the largest below, rank k + 1 the smallest above
      let x = to[0]!
      for (let i = 1; i < cl; i++) x = Math.max(x, to[i]!)
      let y = to[cl]!
      for (let i = cl + 1; i < n; i++) y = Math.min(y, to[i]!)
      out[0] = x
      out[1] = y
      return
    } else {
      // p is the smallest value: split off the values equal to it (p is one of them)
      let ce = 0
      let cg = n - 1
      for (let i = 0; i < n; i++) {
        const v = to[i]!
        const eq = Number(v === p)
        other[ce] = v
        other[cg] = v
        ce += eq
        cg += eq - 1
      }
      if (want < ce) {
        out[0] = p
        out[1] = p
        return
      }
      if (k < ce) {
        let y = other[ce]!
        for (let i = ce + 1; i < n; i++) y = Math.min(y, other[i]!)
        out[0] = p
        out[1] = y
        return
      }
      k -= ce
      from = other
      lo = ce
      n -= ce
      to = other === a ? b : a
      continue
    }
    from = to
    to = other
  }
  // small range (or budget spent): sort it into `to` and index
  for (let i = 0; i < n; i++) to[i] = from[lo + i]!
  if (n > 16) sortRange(to, 0, n)
  else insertionSort(to, 0, n)
  out[0] = to[k]!
  if (pair) out[1] = to[k + 1]!
}

/**
 * One branch-free partition pass (internal): copies src[off..off+m) into to[0..m) with the values
 * below a ninther pivot first, and returns how many they are (0 when the pivot is the minimum).
 */
export function splitOnce(src: Float64Array, off: number, m: number, to: Float64Array): number {
  const last = off + m - 1
  const mid = off + (m >> 1)
  const q = m >> 3
  const p = median3(
    median3(src[off]!, src[off + q]!, src[off + 2 * q]!),
    median3(src[mid - q]!, src[mid]!, src[mid + q]!),
    median3(src[last - 2 * q]!, src[last - q]!, src[last]!),
  )
  let cl = 0
  let ch = m - 1
  for (let i = off; i <= last; i++) {
    const v = src[i]!
    const lt = Number(v < p)
    to[cl] = v
    to[ch] = v
    cl += lt
    ch += lt - 1
  }
  return cl
}

function median3(x0: number, x1: number, x2: number): number {
  return Math.max(Math.min(x0, x1), Math.min(Math.max(x0, x1), x2))
}

/**
 * Sorts the `m` values src[off..off+m) ascending into scratch (internal) and returns the scratch
 * array holding them at [0..m) — `a` or `b`, each of at least `m` values; `src` is not modified.
 * Bottom-up merge sort without data-dependent branches: groups of four by a sorting network
 * (Math.min / Math.max), then merges that pick the next index arithmetically. O(m log m) always.
 * The result is the sorted sequence any correct sort gives, except that a −0 may come back as
 * +0 (they compare equal; every caller treats them alike).
 */
export function sortInto(src: Float64Array, off: number, m: number, a: Float64Array, b: Float64Array): Float64Array {
  let i = 0
  for (; i + 3 < m; i += 4) {
    const x0 = src[off + i]!
    const x1 = src[off + i + 1]!
    const x2 = src[off + i + 2]!
    const x3 = src[off + i + 3]!
    const l0 = Math.min(x0, x1)
    const h0 = Math.max(x0, x1)
    const l1 = Math.min(x2, x3)
    const h1 = Math.max(x2, x3)
    const lo = Math.min(l0, l1)
    const hi = Math.max(h0, h1)
    const m0 = Math.max(l0, l1)
    const m1 = Math.min(h0, h1)
    a[i] = lo
    a[i + 1] = Math.min(m0, m1)
    a[i + 2] = Math.max(m0, m1)
    a[i + 3] = hi
  }
  for (let j = i; j < m; j++) a[j] = src[off + j]!
  insertionSort(a, i, m)
  let from = a
  let to = b
  for (let w = 4; w < m; w *= 2) {
    for (let start = 0; start < m; start += 2 * w) {
      const pe = Math.min(start + w, m)
      const qe = Math.min(start + 2 * w, m)
      let p = start
      let q = pe
      if (q >= qe) {
        for (let k = start; k < qe; k++) to[k] = from[k]!
        continue
      }
      for (let k = start; k < qe; k++) {
        // clamped reads stay inside the runs; an exhausted run is never picked
        const cp = Math.min(p, pe - 1)
        const cq = Math.min(q, qe - 1)
        const t = Number(q >= qe) | (Number(p < pe) & Number(from[cp]! <= from[cq]!))
        to[k] = from[cq + (cp - cq) * t]!
        p += t
        q += 1 - t
      }
    }
    const x = from
    from = to
    to = x
  }
  return from
}
