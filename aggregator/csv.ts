// CSV that spreadsheets open as meant: RFC 4180 quoting, CRLF line ends, a UTF-8 byte-order mark (Excel needs it
// to read UTF-8), and text cells that a spreadsheet would take for a formula defused with a leading apostrophe.

export type Cell = string | number | boolean | null;

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell. Numbers are written as they are; text is quoted when it must be and defused when it could run. */
export function csvCell(v: Cell, text = typeof v === 'string'): string {
  if (v === null) return '';
  let s = String(v);
  if (text && FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) || (text && s !== String(v)) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A whole document. `textColumns` names the columns holding free text from order systems (brand names,
 * labels): those are defused; other string columns (decimal amounts, instants) are written as they are.
 */
export function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[], textColumns: readonly string[] = []): string {
  const isText = header.map((h) => textColumns.includes(h));
  const lines = [header.map((h) => csvCell(h, false)).join(',')];
  for (const r of rows) lines.push(r.map((c, i) => csvCell(c, isText[i] ?? false)).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}
