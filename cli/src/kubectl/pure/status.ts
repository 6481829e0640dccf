/**
 * `status`: one row per opted-in pod, from the pod, its node, its Events and its account's bindings. Pure: what
 * could not be read arrives as `undefined` with the reason in `unread`, and the row says "unknown".
 */
import type { CoreV1Event, V1Namespace, V1Node, V1Pod, V1RoleBinding } from '@kubernetes/client-node';
import {
  EVENT_REASON,
  EVENT_REASON_BLOCKED,
  EVENT_REASON_FORBIDDEN,
  formatDuration,
  match,
  NAMESPACE_INJECTION_ENABLED,
  NAMESPACE_INJECTION_LABEL,
  NODE_READER_CLUSTER_ROLE,
  POD_INJECT_LABEL,
  placedFailures,
  type Rule,
  ruleOf,
  SIDECAR_CLUSTER_ROLE,
  SIDECAR_CONTAINER,
  STATUS_ANNOTATION,
  STATUS_NOTHING_TO_ENFORCE,
  settingsOf,
} from '@sidecar-destruct/core';

export interface StatusRow {
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
  readonly rule: string;
  /** `matches`, `WOULD GO: <why>`, or `unknown (…)`. */
  readonly verdict: string;
  readonly grace: string;
  readonly injection: 'native sidecar' | 'container' | 'nothing to enforce' | 'NOT INJECTED';
  readonly lastEvent: string;
  readonly roles: 'held' | 'MISSING' | 'unknown';
  /** What is wrong with this pod's protection; empty when nothing. */
  readonly problems: readonly string[];
}

/** Whether the webhook is asked about this pod (deploy/base/mutatingwebhook.yaml's two selectors). */
export function optedIn(pod: V1Pod, namespace: V1Namespace | undefined): boolean {
  const label = pod.metadata?.labels?.[POD_INJECT_LABEL];
  if (label === 'false') return false;
  if (label === 'true' || pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined) return true;
  return namespace?.metadata?.labels?.[NAMESPACE_INJECTION_LABEL] === NAMESPACE_INJECTION_ENABLED;
}

/** The rule in a few words: `usb=true, arch in (arm64)` or the selector annotation. */
export function shortRule(rule: Rule): string {
  if (rule.source === 'annotation') return rule.selector ?? '';
  const parts = Object.entries(rule.nodeSelector).map(([k, v]) => `${k}=${v}`);
  const terms = rule.nodeSelectorTerms;
  if (terms) parts.push(`affinity: ${terms.length} term${terms.length === 1 ? '' : 's'}`);
  return parts.join(', ') || '(none)';
}

function injectionOf(pod: V1Pod): StatusRow['injection'] {
  const native = pod.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER);
  if (native?.restartPolicy === 'Always') return 'native sidecar';
  if (native || pod.spec?.containers.some((c) => c.name === SIDECAR_CONTAINER)) return 'container';
  if (pod.metadata?.annotations?.[STATUS_ANNOTATION] === STATUS_NOTHING_TO_ENFORCE)
    return 'nothing to enforce';
  return 'NOT INJECTED';
}

const SIDECAR_REASONS = new Set([EVENT_REASON, EVENT_REASON_BLOCKED, EVENT_REASON_FORBIDDEN]);
const eventTime = (e: CoreV1Event): number =>
  new Date(e.eventTime ?? e.lastTimestamp ?? e.metadata.creationTimestamp ?? 0).getTime();

/** The newest Event the sidecar recorded on this pod, in words. */
export function lastSidecarEvent(pod: V1Pod, events: readonly CoreV1Event[]): string {
  const mine = events
    .filter((e) => e.involvedObject.uid === pod.metadata?.uid || e.involvedObject.name === pod.metadata?.name)
    .filter((e) => SIDECAR_REASONS.has(e.reason ?? '') || e.source?.component === 'sidecar-destruct')
    .sort((a, b) => eventTime(b) - eventTime(a));
  const [last] = mine;
  return last ? `${last.reason}: ${last.message ?? ''}`.slice(0, 120) : '(none)';
}

/** Both bindings the sidecar needs, naming the pod's account: the own-pod role and the node reader. */
export function holdsRoles(
  pod: V1Pod,
  roleBinding: V1RoleBinding | undefined,
  clusterRoleBinding: V1RoleBinding | undefined,
): boolean {
  const account = pod.spec?.serviceAccountName ?? 'default';
  const names = (b: V1RoleBinding | undefined, role: string) =>
    b?.roleRef.kind === 'ClusterRole' &&
    b.roleRef.name === role &&
    (b.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === account && s.namespace === pod.metadata?.namespace,
    );
  return names(roleBinding, SIDECAR_CLUSTER_ROLE) && names(clusterRoleBinding, NODE_READER_CLUSTER_ROLE);
}

export interface PodFacts {
  readonly pod: V1Pod;
  /** Its node; undefined when it is not scheduled or could not be read (`nodeUnread` says which). */
  readonly node: V1Node | undefined;
  readonly nodeUnread?: string;
  readonly events: readonly CoreV1Event[] | undefined;
  /** Whether its account holds the roles; undefined when the bindings could not be read. */
  readonly roles: boolean | undefined;
}

function verdictOf(rule: Rule, facts: PodFacts): { verdict: string; wrong?: string } {
  if (!facts.node) {
    if (facts.nodeUnread) return { verdict: `unknown (${facts.nodeUnread})` };
    if (facts.pod.spec?.nodeName) return { verdict: 'unknown (node gone)' };
    const scheduled = facts.pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    return scheduled?.reason === 'Unschedulable'
      ? {
          verdict: 'Pending: no node fits',
          wrong: `Pending, no node fits (${scheduled.message ?? 'Unschedulable'})`,
        }
      : { verdict: 'not scheduled' };
  }
  const verdict = match(rule, facts.node);
  if (verdict.matches) return { verdict: 'matches' };
  const why = placedFailures(rule, verdict)[0]?.why ?? 'does not match';
  return { verdict: `WOULD GO: ${why}`, wrong: `its node no longer matches (${why})` };
}

export function statusRow(facts: PodFacts): StatusRow {
  const { pod } = facts;
  const rule = ruleOf(pod);
  const settings = settingsOf(pod.metadata?.annotations);
  const injection = injectionOf(pod);
  const problems: string[] = [];
  if (injection === 'NOT INJECTED')
    problems.push('opted in but not injected (created before the webhook ran?)');
  if (!rule.ok) problems.push(rule.error);
  const verdict = rule.ok ? verdictOf(rule.value, facts) : { verdict: 'unknown (bad rule)' };
  if (verdict.wrong) problems.push(verdict.wrong);
  const roles = facts.roles === undefined ? 'unknown' : facts.roles ? 'held' : 'MISSING';
  if (roles === 'MISSING' && injection !== 'nothing to enforce' && injection !== 'NOT INJECTED')
    problems.push('its account lacks the sidecar roles: the sidecar cannot delete it');
  return {
    namespace: pod.metadata?.namespace ?? '',
    pod: pod.metadata?.name ?? '',
    node: pod.spec?.nodeName ?? '',
    rule: rule.ok ? shortRule(rule.value) : 'invalid',
    verdict: verdict.verdict,
    grace: settings.ok ? formatDuration(settings.value.gracePeriodMs) : 'invalid',
    injection,
    lastEvent: facts.events ? lastSidecarEvent(pod, facts.events) : 'unknown (cannot list events)',
    roles,
    problems,
  };
}
