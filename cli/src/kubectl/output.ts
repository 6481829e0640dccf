/** The three ways every plugin command prints: a human table (the default), `-o json` and `-o yaml`. */
import { stringify } from 'yaml';

export type Format = 'table' | 'json' | 'yaml';

export const FORMATS: readonly Format[] = ['table', 'json', 'yaml'];

/** Columns padded to their widest cell, headers in capitals, as kubectl prints. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n')}\n`;
}

/** The report as the format asks: `human` renders it for people, json and yaml print it whole. */
export function render(format: Format, report: unknown, human: () => string): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'yaml') return stringify(report);
  return human();
}
