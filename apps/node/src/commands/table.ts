/**
 * Aligned text tables for people (`vain peers`, `vain job list`): a header row, columns padded to
 * their widest cell; numbers right-aligned.
 * @module
 */

/** A column: its header, and whether its cells are right-aligned (numbers). */
export interface Column {
  header: string
  right?: boolean
}

/** Renders `rows` under `columns` as lines, columns separated by two spaces; no trailing spaces. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? ''
        const w = widths[i] ?? 0
        return c.right === true ? cell.padStart(w) : cell.padEnd(w)
      })
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...rows.map(line)]
}
