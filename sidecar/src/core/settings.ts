/** The per-pod settings a user writes as annotations, parsed once at the edge. */
import { formatDuration, parseDuration } from './duration.js';
import { ACTION_ANNOTATION, DRY_RUN_ANNOTATION, GRACE_PERIOD_ANNOTATION } from './names.js';
import { err, ok, type Result } from './result.js';

export type Action = 'delete' | 'evict';

export interface Settings {
  /** How long a mismatch must last before acting. */
  readonly gracePeriodMs: number;
  readonly action: Action;
  /** Report (log + Event) but never delete. */
  readonly dryRun: boolean;
}

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  gracePeriodMs: 0,
  action: 'delete',
  dryRun: false,
});

/** The accepted form of each setting, quoted in errors and in the README. */
export const SETTING_FORMS = {
  gracePeriod: 'a duration such as 30s, 2m or 1h30m (units ms, s, m, h)',
  action: '"delete" or "evict"',
  dryRun: '"true" or "false"',
} as const;

export type Annotations = Readonly<Record<string, string>>;

const invalid = (annotation: string, value: string, form: string): string =>
  `annotation ${annotation}: "${value}" is not valid; use ${form}`;

export function parseGracePeriod(value: string): Result<number> {
  const ms = parseDuration(value.trim());
  return ms === undefined ? err(invalid(GRACE_PERIOD_ANNOTATION, value, SETTING_FORMS.gracePeriod)) : ok(ms);
}

export function parseAction(value: string): Result<Action> {
  const v = value.trim();
  return v === 'delete' || v === 'evict'
    ? ok(v)
    : err(invalid(ACTION_ANNOTATION, value, SETTING_FORMS.action));
}

export function parseDryRun(value: string): Result<boolean> {
  const v = value.trim();
  if (v === 'true') return ok(true);
  if (v === 'false') return ok(false);
  return err(invalid(DRY_RUN_ANNOTATION, value, SETTING_FORMS.dryRun));
}

/** Every setting annotation of a pod; an absent one takes its default. All errors are reported together. */
export function settingsOf(annotations: Annotations | undefined): Result<Settings, string[]> {
  const a = annotations ?? {};
  const grace = Object.hasOwn(a, GRACE_PERIOD_ANNOTATION)
    ? parseGracePeriod(a[GRACE_PERIOD_ANNOTATION] ?? '')
    : ok(0);
  const action = Object.hasOwn(a, ACTION_ANNOTATION)
    ? parseAction(a[ACTION_ANNOTATION] ?? '')
    : ok('delete' as const);
  const dryRun = Object.hasOwn(a, DRY_RUN_ANNOTATION) ? parseDryRun(a[DRY_RUN_ANNOTATION] ?? '') : ok(false);
  const errors = [grace, action, dryRun].flatMap((r) => (r.ok ? [] : [r.error]));
  if (!grace.ok || !action.ok || !dryRun.ok) return err(errors);
  return ok({ gracePeriodMs: grace.value, action: action.value, dryRun: dryRun.value });
}

export function describeSettings(settings: Settings): string {
  return `grace-period ${formatDuration(settings.gracePeriodMs)}, action ${settings.action}, dry-run ${settings.dryRun}`;
}
