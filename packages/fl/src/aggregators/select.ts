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
