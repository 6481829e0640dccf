import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../src/duration.js';
import { DEFAULT_SETTINGS, settingsOf } from '../src/settings.js';

describe('grace periods are Go durations', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['250ms', 250],
    ['1m30s500ms', 90_500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '30', '-5s', '5 s', '5S', '1d', 's', '.s', '1h30', 'abc', '1e3s'])('refuses "%s"', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each([
    [0, '0s'],
    [30_000, '30s'],
    [5_400_000, '1h30m'],
    [90_500, '1m30s500ms'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('settings annotations', () => {
  it('default to grace 10s, an NFD outage grace of 5m, delete, no dry-run', () => {
    expect(DEFAULT_SETTINGS).toEqual({
      gracePeriodMs: 10_000,
      nfdOutageGracePeriodMs: 300_000,
      action: 'delete',
      dryRun: false,
    });
    expect(settingsOf(undefined)).toEqual({ ok: true, value: DEFAULT_SETTINGS });
    expect(settingsOf({ unrelated: 'x' })).toEqual({ ok: true, value: DEFAULT_SETTINGS });
  });

  it('are read when set', () => {
    expect(
      settingsOf({
        'sidecar-destruct.io/grace-period': '2m',
        'sidecar-destruct.io/nfd-outage-grace-period': '15m',
        'sidecar-destruct.io/action': 'evict',
        'sidecar-destruct.io/dry-run': 'true',
      }),
    ).toEqual({
      ok: true,
      value: { gracePeriodMs: 120_000, nfdOutageGracePeriodMs: 900_000, action: 'evict', dryRun: true },
    });
  });

  it.each([
    ['sidecar-destruct.io/grace-period', 'soon', '30s, 2m or 1h30m'],
    ['sidecar-destruct.io/grace-period', '', '30s, 2m or 1h30m'],
    ['sidecar-destruct.io/nfd-outage-grace-period', 'a while', '30s, 2m or 1h30m'],
    ['sidecar-destruct.io/action', 'kill', '"delete" or "evict"'],
    ['sidecar-destruct.io/action', 'Delete', '"delete" or "evict"'],
    ['sidecar-destruct.io/dry-run', 'yes', '"true" or "false"'],
  ])('refuse %s: "%s", naming the annotation and the accepted form', (annotation, value, form) => {
    const parsed = settingsOf({ [annotation]: value });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toHaveLength(1);
      expect(parsed.error[0]).toContain(annotation);
      expect(parsed.error[0]).toContain(`"${value}"`);
      expect(parsed.error[0]).toContain(form);
    }
  });

  it('report every bad annotation at once', () => {
    const parsed = settingsOf({ 'sidecar-destruct.io/action': 'x', 'sidecar-destruct.io/dry-run': 'y' });
    expect(parsed.ok || parsed.error).toHaveLength(2);
  });
});
