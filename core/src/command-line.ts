/**
 * Every command's settings, one table each: a setting's flag, its environment variable (if it has one), its
 * default and its help. Values come from the flag, then the variable, then the default; the help text is made from
 * the same table, so the two cannot drift. A bad value is an error naming the flag, the variable and the accepted
 * form, and every problem is reported at once.
 */
import { parseArgs } from 'node:util';
import { err, ok, type Result } from './result.js';

export interface Setting {
  readonly flag: string;
  /** The environment variable that sets it when the flag is absent; none: flag only. */
  readonly env?: string;
  /** As written on the command line; '' when it has none. */
  readonly default: string;
  readonly help: string;
  /** A switch (`--nfd`), not a flag with a value. */
  readonly boolean?: true;
  readonly short?: string;
}

export type SettingsTable = Readonly<Record<string, Setting>>;
export type Env = Readonly<Record<string, string | undefined>>;

const QUANTITY = /^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** `--flag / VAR`, as errors and help name a setting. */
const named = (s: Setting): string => (s.env ? `--${s.flag} / ${s.env}` : `--${s.flag}`);

/** The help of a command: its usage and description, then one line per setting, then -h. */
export function settingsHelp(usage: string, description: string, settings: SettingsTable): string {
  const flagOf = (s: Setting): string =>
    `${s.short ? `-${s.short}, ` : ''}--${s.flag}${s.boolean ? '' : ' VALUE'}`;
  const width = Math.max(...Object.values(settings).map((s) => flagOf(s).length));
  const envWidth = Math.max(0, ...Object.values(settings).map((s) => (s.env ?? '').length)) + 1;
  const lines = Object.values(settings).map((s) => {
    const flag = flagOf(s).padEnd(width);
    const env = envWidth > 1 ? (s.env ?? '').padEnd(envWidth) : '';
    return `  ${flag} ${env}${s.help}${s.default ? ` (default ${s.default})` : ''}`.trimEnd();
  });
  return `Usage: ${usage}\n\n${description.trim()}\n\n${lines.join('\n')}\n  -h, --help\n`;
}

/** Reads one command's settings, collecting every problem; `errors` is empty when all were valid. */
export class SettingReader<S extends SettingsTable> {
  readonly errors: string[] = [];

  constructor(
    private readonly settings: S,
    private readonly flags: Readonly<Record<string, string | boolean | undefined>>,
    private readonly env: Env,
  ) {}

  raw(key: keyof S): string {
    const s = this.settings[key] as Setting;
    const value = this.flags[s.flag];
    if (typeof value === 'string') return value;
    return (s.env ? this.env[s.env] : undefined) ?? s.default;
  }

  /** A switch: set by its flag, or by its variable being `true`. */
  on(key: keyof S): boolean {
    const s = this.settings[key] as Setting;
    return this.flags[s.flag] === true || (s.env !== undefined && this.env[s.env] === 'true');
  }

  /** The value, or undefined when neither flag, variable nor default gives one. */
  optional(key: keyof S): string | undefined {
    return this.raw(key) || undefined;
  }

  required(key: keyof S): string {
    const v = this.raw(key);
    if (v === '') this.errors.push(`${named(this.settings[key] as Setting)} is required`);
    return v;
  }

  oneOf<T extends string>(key: keyof S, values: readonly T[]): T {
    const v = this.raw(key);
    if ((values as readonly string[]).includes(v)) return v as T;
    this.bad(key, values.join(', '));
    return values[0] as T;
  }

  integer(key: keyof S, min: number, max: number): number {
    const v = this.raw(key);
    const n = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
    if (n >= min && n <= max) return n;
    this.bad(key, `an integer from ${min} to ${max}`);
    return min;
  }

  quantity(key: keyof S): string {
    const v = this.raw(key);
    if (!QUANTITY.test(v)) this.bad(key, 'a Kubernetes quantity such as 10m, 64Mi or 0.5');
    return v;
  }

  /** A problem that is not one setting's alone (two settings that contradict each other). */
  problem(message: string): void {
    this.errors.push(message);
  }

  private bad(key: keyof S, form: string): void {
    this.errors.push(`${named(this.settings[key] as Setting)}: "${this.raw(key)}" is not valid; use ${form}`);
  }
}

export type CommandLine<S extends SettingsTable> =
  | { readonly help: true }
  | { readonly help: false; readonly read: SettingReader<S>; readonly positionals: readonly string[] };

/** Parses `argv` against the table (unknown flags are an error), ready to read values from flags, env and defaults. */
export function readCommandLine<S extends SettingsTable>(
  settings: S,
  argv: readonly string[],
  env: Env,
  options: { readonly positionals?: boolean } = {},
): Result<CommandLine<S>, string[]> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(
          Object.values(settings).map((s) => [
            s.flag,
            {
              type: s.boolean ? ('boolean' as const) : ('string' as const),
              ...(s.short ? { short: s.short } : {}),
            },
          ]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: options.positionals ?? false,
      strict: true,
    });
    if (values.help === true) return ok({ help: true });
    return ok({ help: false, read: new SettingReader(settings, values, env), positionals });
  } catch (e) {
    return err([(e as Error).message]);
  }
}
