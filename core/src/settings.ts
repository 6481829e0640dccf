/** The per-pod settings a user writes as annotations, parsed once at the edge. */
import { formatDuration, parseDuration } from './duration.js';
import {
  ACTION_ANNOTATION,
  DRY_RUN_ANNOTATION,
  GRACE_PERIOD_ANNOTATION,
  NFD_OUTAGE_GRACE_PERIOD_ANNOTATION,
} from './names.js';
import { err, ok, type Result } from './result.js';

export type Action = 'delete' | 'evict';

export interface Settings {
  /** How long a mismatch must last before acting. */
  readonly gracePeriodMs: number;
  /**
   * How long to hold off while node-feature-discovery has removed every label of the node (a worker or master
   * restart, see nfd.ts) before acting all the same.
   */
  readonly nfdOutageGracePeriodMs: number;
  readonly action: Action;
  /** Report (log + Event) but never delete. */
  readonly dryRun: boolean;
}

/**
 * 10 s rides out a USB stick that re-enumerates and an API hiccup while a real unplug still acts within seconds;
 * the label flap of an NFD worker restart (every NFD label gone for tens of seconds) is held off by the longer
 * NFD outage grace instead, so the short default does not have to cover it.
 */
export const DEFAULT_SETTINGS: Settings = Object.freeze({
  gracePeriodMs: 10_000,
  nfdOutageGracePeriodMs: 5 * 60_000,
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

/** A parser of a duration annotation, naming that annotation in its error. */
const durationOf =
  (annotation: string) =>
  (value: string): Result<number> => {
    const ms = parseDuration(value.trim());
    return ms === undefined ? err(invalid(annotation, value, SETTING_FORMS.gracePeriod)) : ok(ms);
  };

export const parseGracePeriod = durationOf(GRACE_PERIOD_ANNOTATION);
export const parseNfdOutageGracePeriod = durationOf(NFD_OUTAGE_GRACE_PERIOD_ANNOTATION);

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

/** Each setting's annotation and parser: the one table the annotations and the sidecar's env are read by. */
export const SETTING_FIELDS: {
  readonly [K in keyof Settings]: {
    readonly annotation: string;
    readonly parse: (value: string) => Result<Settings[K]>;
  };
} = Object.freeze({
  gracePeriodMs: { annotation: GRACE_PERIOD_ANNOTATION, parse: parseGracePeriod },
  nfdOutageGracePeriodMs: {
    annotation: NFD_OUTAGE_GRACE_PERIOD_ANNOTATION,
    parse: parseNfdOutageGracePeriod,
  },
  action: { annotation: ACTION_ANNOTATION, parse: parseAction },
  dryRun: { annotation: DRY_RUN_ANNOTATION, parse: parseDryRun },
});

/**
 * Every setting, from `raw` (undefined: absent, so the default); every error is reported, each worded by `word`.
 * The annotations (settingsOf) and the sidecar's environment (env.ts) are both read through here.
 */
export function readSettings(
  raw: (field: keyof Settings) => string | undefined,
  word: (field: keyof Settings, error: string) => string = (_field, error) => error,
): Result<Settings, string[]> {
  const errors: string[] = [];
  const one = <K extends keyof Settings>(field: K): Settings[K] => {
    const value = raw(field);
    if (value === undefined) return DEFAULT_SETTINGS[field];
    const parsed = SETTING_FIELDS[field].parse(value);
    if (parsed.ok) return parsed.value;
    errors.push(word(field, parsed.error));
    return DEFAULT_SETTINGS[field];
  };
  const settings: Settings = {
    gracePeriodMs: one('gracePeriodMs'),
    nfdOutageGracePeriodMs: one('nfdOutageGracePeriodMs'),
    action: one('action'),
    dryRun: one('dryRun'),
  };
  return errors.length > 0 ? err(errors) : ok(settings);
}

/** Every setting annotation of a pod; an absent one takes its default. All errors are reported together. */
export function settingsOf(annotations: Annotations | undefined): Result<Settings, string[]> {
  const a = annotations ?? {};
  return readSettings((field) => {
    const name = SETTING_FIELDS[field].annotation;
    return Object.hasOwn(a, name) ? (a[name] ?? '') : undefined;
  });
}

export function describeSettings(settings: Settings): string {
  return `grace-period ${formatDuration(settings.gracePeriodMs)}, nfd-outage-grace-period ${formatDuration(settings.nfdOutageGracePeriodMs)}, action ${settings.action}, dry-run ${settings.dryRun}`;
}
