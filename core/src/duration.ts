/** Durations as Kubernetes users write them (Go's `time.ParseDuration`): `30s`, `2m`, `1h30m`, `1.5h`, `0`. */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/y;

/** Milliseconds, or undefined when `text` is not a non-negative duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text.length === 0) return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (!match) return undefined;
    const [, number = '', unit = ''] = match;
    const scale = UNIT_MS[unit];
    if (scale === undefined || number === '' || number === '.' || PART.lastIndex === start) return undefined;
    total += Number(number) * scale;
  }
  return Number.isFinite(total) ? total : undefined;
}

/** `90000` → `1m30s`; the inverse of parseDuration for whole milliseconds. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join('') || '0s';
}
