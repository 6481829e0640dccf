/**
 * The rule core: pure functions shared by the webhook, the sidecar and `sidecar-destruct explain`.
 * No I/O and no Kubernetes client at run time (types only).
 */

export { BACKOFF, backoffDelay, HEALTHY_WATCH_MS, reconnect, watchTimeoutSeconds } from './backoff.js';
export {
  type CommandLine,
  type Env,
  readCommandLine,
  type Setting,
  SettingReader,
  type SettingsTable,
  settingsHelp,
} from './command-line.js';
export { formatDuration, parseDuration } from './duration.js';
export { ENV, type Identity, parseSidecarEnv, type SidecarContract, sidecarEnv } from './env.js';
export {
  describeVerdict,
  type Explanation,
  explain,
  formatExplanation,
  type PlacedUnmet,
  placedFailures,
  type WordedVerdict,
} from './explain.js';
export {
  type KubeConfigLoader,
  type KubeConfigSource,
  kubeConfigSource,
  loadKubeConfig,
  NO_KUBECONFIG,
} from './kubeconfig.js';
export { labelKeyProblem } from './labels.js';
export type { Log, LogFields } from './log.js';
export { match, type TermsVerdict, type Unmet, type Verdict } from './match.js';
export * from './names.js';
export { dependsOnNfd, nfdOutage } from './nfd.js';
export { isObject, parsePod } from './objects.js';
export { err, ok, type Result } from './result.js';
export { describeRule, isEmptyRule, type Rule, ruleOf } from './rule.js';
export { formatRequirement, parseSelector } from './selector.js';
export {
  type Action,
  type Annotations,
  DEFAULT_SETTINGS,
  describeSettings,
  type Settings,
  settingsOf,
} from './settings.js';
