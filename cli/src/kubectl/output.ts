/** The three ways every plugin command prints: a human table (the default), `-o json` and `-o yaml`. */
import { stringify } from 'yaml';

export type Format = 'table' | 'json' | 'yaml';

export const FORMATS: readonly Format[] = ['table', 'json', 'yaml'];

/** Columns padded to their widest cell, headers in capitals, as kubectl prints. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  // One line a row: a cell's own line breaks (an Event's message) cannot forge a row.
  const cells = rows.map((r) => r.map((cell) => cell.replace(/[\r\n]+/g, ' ')));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

/**
 * Text from the cluster made safe for a terminal: what a pod's author writes (an Event's message, an annotation)
 * must not move the cursor, retitle the window or write the clipboard. Control characters (C0 but newline, DEL,
 * C1) become `?`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
export const printable = (text: string): string => text.replace(CONTROL, '?');

/** The report as the format asks: `human` renders it for people, json and yaml print it whole, escaped. */
export function render(format: Format, report: unknown, human: () => string): string {
  if (format === 'json')
    // JSON.stringify escapes C0 but leaves DEL and C1 (U+009B is a terminal's CSI) as they are.
    return `${JSON.stringify(report, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
  if (format === 'yaml') return printable(stringify(report));
  return printable(human());
}
