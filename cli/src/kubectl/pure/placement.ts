/**
 * `explain POD --nodes`: where a replacement of the pod could go. A node fits when the scheduler may place a pod
 * there (not cordoned, every NoSchedule/NoExecute taint tolerated, as kube-scheduler's NodeUnschedulable and
 * TaintToleration filters decide) and the pod's rule matches it. Free CPU and memory are not weighed: a node
 * listed here can still be too full.
 */
import type { V1Node, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { match, placedFailures, type Rule } from '@sidecar-destruct/core';

export interface Placement {
  readonly node: string;
  /** Why the scheduler would not place a pod there; undefined when it may. */
  readonly unschedulable?: string;
  readonly matches: boolean;
  readonly reason: string;
  /** Schedulable and matching: a replacement could go here. */
  readonly fits: boolean;
}

/** Whether a toleration covers a taint, as Kubernetes' `Toleration.ToleratesTaint` decides. */
export function tolerates(t: V1Toleration, taint: V1Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  if (!t.key && t.operator !== 'Exists') return false;
  return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
}

const CORDON: V1Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

/** Why the scheduler would keep a new copy of `pod` off `node`, or undefined. */
export function unschedulableReason(pod: V1Pod, node: V1Node): string | undefined {
  const tolerations = pod.spec?.tolerations ?? [];
  if (node.spec?.unschedulable && !tolerations.some((t) => tolerates(t, CORDON))) return 'cordoned';
  const blocking = (node.spec?.taints ?? []).find(
    (taint) =>
      (taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') &&
      !tolerations.some((t) => tolerates(t, taint)),
  );
  return blocking
    ? `taint ${blocking.key}${blocking.value ? `=${blocking.value}` : ''}:${blocking.effect}`
    : undefined;
}

export function placements(pod: V1Pod, rule: Rule, nodes: readonly V1Node[]): Placement[] {
  return nodes
    .map((node) => {
      const verdict = match(rule, node);
      const unschedulable = unschedulableReason(pod, node);
      const reason = verdict.matches
        ? 'matches'
        : (placedFailures(rule, verdict)[0]?.why ?? 'does not match');
      return {
        node: node.metadata?.name ?? '',
        ...(unschedulable ? { unschedulable } : {}),
        matches: verdict.matches,
        reason,
        fits: verdict.matches && !unschedulable,
      };
    })
    .sort((a, b) => Number(b.fits) - Number(a.fits) || a.node.localeCompare(b.node));
}
