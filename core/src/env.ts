/**
 * The contract between the webhook, which writes the sidecar's environment, and the sidecar, which reads it.
 * Defined here once; the webhook imports `sidecarEnv`, the sidecar `parseSidecarEnv`.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { formatDuration } from './duration.js';
import { parseRule } from './objects.js';
import { err, ok, type Result } from './result.js';
import type { Rule } from './rule.js';
import { readSettings, type Settings } from './settings.js';

export const ENV = Object.freeze({
  nodeName: 'SIDECAR_DESTRUCT_NODE_NAME',
  podName: 'SIDECAR_DESTRUCT_POD_NAME',
  podNamespace: 'SIDECAR_DESTRUCT_POD_NAMESPACE',
  podUid: 'SIDECAR_DESTRUCT_POD_UID',
  /** The rule as JSON: `{"source","nodeSelector","nodeSelectorTerms"?,"selector"?}`. */
  rule: 'SIDECAR_DESTRUCT_RULE',
  gracePeriod: 'SIDECAR_DESTRUCT_GRACE_PERIOD',
  nfdOutageGracePeriod: 'SIDECAR_DESTRUCT_NFD_OUTAGE_GRACE_PERIOD',
  action: 'SIDECAR_DESTRUCT_ACTION',
  dryRun: 'SIDECAR_DESTRUCT_DRY_RUN',
});

/** Who the sidecar is: filled in by the kubelet from the downward API. */
export interface Identity {
  readonly nodeName: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
}

export interface SidecarContract {
  readonly identity: Identity;
  readonly rule: Rule;
  readonly settings: Settings;
}

const DOWNWARD: ReadonlyArray<readonly [keyof Identity, string]> = [
  ['nodeName', 'spec.nodeName'],
  ['podName', 'metadata.name'],
  ['podNamespace', 'metadata.namespace'],
  ['podUid', 'metadata.uid'],
];

/** The sidecar container's env: identity from the downward API, then the rule and the settings. */
export function sidecarEnv(rule: Rule, settings: Settings): V1EnvVar[] {
  return [
    ...DOWNWARD.map(([name, fieldPath]) => ({ name: ENV[name], valueFrom: { fieldRef: { fieldPath } } })),
    { name: ENV.rule, value: JSON.stringify(rule) },
    { name: ENV.gracePeriod, value: formatDuration(settings.gracePeriodMs) },
    { name: ENV.nfdOutageGracePeriod, value: formatDuration(settings.nfdOutageGracePeriodMs) },
    { name: ENV.action, value: settings.action },
    { name: ENV.dryRun, value: String(settings.dryRun) },
  ];
}

/** The variable that carries each setting. */
const SETTING_ENV: { readonly [K in keyof Settings]: string } = Object.freeze({
  gracePeriodMs: ENV.gracePeriod,
  nfdOutageGracePeriodMs: ENV.nfdOutageGracePeriod,
  action: ENV.action,
  dryRun: ENV.dryRun,
});

/** Reads the contract from an environment; every missing or malformed variable is reported, by name. */
export function parseSidecarEnv(
  env: Readonly<Record<string, string | undefined>>,
): Result<SidecarContract, string[]> {
  const errors: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') errors.push(`${name} is not set`);
    return value ?? '';
  };
  const identity: Identity = {
    nodeName: required(ENV.nodeName),
    podName: required(ENV.podName),
    podNamespace: required(ENV.podNamespace),
    podUid: required(ENV.podUid),
  };
  const ruleText = required(ENV.rule);
  let rule: Rule | undefined;
  if (ruleText !== '') {
    let json: unknown;
    try {
      json = JSON.parse(ruleText);
    } catch {
      errors.push(`${ENV.rule} is not JSON`);
    }
    if (json !== undefined) {
      const parsed = parseRule(json);
      if (parsed.ok) rule = parsed.value;
      else errors.push(`${ENV.rule}: ${parsed.error}`);
    }
  }
  // An empty variable is an absent one: the setting takes its default.
  const settings = readSettings(
    (field) => env[SETTING_ENV[field]] || undefined,
    (field, error) => `${SETTING_ENV[field]}: ${error}`,
  );
  if (!settings.ok) errors.push(...settings.error);
  if (errors.length > 0 || rule === undefined || !settings.ok) return err(errors);
  return ok({ identity, rule, settings: settings.value });
}
