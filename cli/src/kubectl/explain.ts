/**
 * `kubectl sidecar-destruct explain POD [--nodes | --node NAME]`: today's explanation, read live from the
 * cluster; `--nodes` adds where a replacement could go. Exit 0 the node matches (with --nodes: some node fits),
 * 1 it does not (none fits), 2 the pod or the nodes could not be read.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import {
  type Explanation,
  explain,
  formatExplanation,
  ruleOf,
  SIDECAR_CONTAINER,
} from '@sidecar-destruct/core';
import type { Cluster } from './cluster.js';
import { type Format, render, table } from './output.js';
import { cannotRead, type Seen } from './pure/check.js';
import { type Placement, placements } from './pure/placement.js';

export interface Answer {
  readonly text: string;
  readonly status: number;
}

const UNREADABLE = 2;

const cannot = (seen: Seen<unknown> & { ok: false }): Answer => ({
  text: `${cannotRead(seen)}${seen.why === 'forbidden' ? ' (this command needs get and list on it)' : ''}`,
  status: UNREADABLE,
});

function placementText(pod: V1Pod, rows: readonly Placement[]): string {
  const fits = rows.filter((r) => r.fits).map((r) => r.node);
  const body = table(
    ['node', 'schedulable', 'matches', 'reason'],
    rows.map((r) => [
      r.node,
      r.unschedulable ? `no (${r.unschedulable})` : 'yes',
      r.matches ? 'yes' : 'no',
      r.reason,
    ]),
  );
  const verdict =
    fits.length > 0
      ? `A replacement of ${pod.metadata?.name} could go to: ${fits.join(', ')}.`
      : `No node fits: a replacement of ${pod.metadata?.name} would stay Pending.`;
  return `${body}\n${verdict}\n(Free CPU and memory are not weighed.)\n`;
}

const protectedBy = (pod: V1Pod): boolean =>
  [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
    (c) => c.name === SIDECAR_CONTAINER,
  );

/** One node's explanation, as `sidecar-destruct explain` gives it from files; a pod without the sidecar never goes. */
function onNode(pod: V1Pod, node: V1Node, format: Format): Answer {
  const e = explain(pod, node);
  if (!e.ok) return { text: e.error, status: UNREADABLE };
  const injected = protectedBy(pod);
  const note =
    'NOT PROTECTED: this pod has no sidecar-destruct sidecar, so nothing deletes it; the verdict is what it would be.\n\n';
  return {
    text: render(
      format,
      { ...e.value, injected },
      () => `${injected ? '' : note}${formatExplanation(e.value)}`,
    ),
    status: e.value.verdict.matches || !injected ? 0 : 1,
  };
}

/** Every node, and whether a replacement could go there. */
async function onEveryNode(cluster: Cluster, pod: V1Pod, format: Format): Promise<Answer> {
  const rule = ruleOf(pod);
  if (!rule.ok) return { text: rule.error, status: UNREADABLE };
  const nodes = await cluster.nodes();
  if (!nodes.ok) return cannot(nodes);
  const rows = placements(pod, rule.value, nodes.value);
  const current = nodes.value.find((n) => n.metadata?.name === pod.spec?.nodeName);
  const here: Explanation | undefined = current
    ? (explain(pod, current) as { value?: Explanation }).value
    : undefined;
  const report = {
    pod: { namespace: pod.metadata?.namespace, name: pod.metadata?.name },
    current: here,
    nodes: rows,
  };
  const human = () =>
    `${here ? `${formatExplanation(here)}\n` : 'The pod is not on a node yet.\n\n'}${placementText(pod, rows)}`;
  return { text: render(format, report, human), status: rows.some((r) => r.fits) ? 0 : 1 };
}

export async function explainLive(
  cluster: Cluster,
  target: {
    readonly namespace: string;
    readonly pod: string;
    readonly nodes: boolean;
    readonly node?: string;
  },
  format: Format,
): Promise<Answer> {
  const pod = await cluster.read<V1Pod>(
    `get pod ${target.namespace}/${target.pod}`,
    `/api/v1/namespaces/${target.namespace}/pods/${encodeURIComponent(target.pod)}`,
  );
  if (!pod.ok) return cannot(pod);
  if (target.nodes) return onEveryNode(cluster, pod.value, format);
  const nodeName = target.node ?? pod.value.spec?.nodeName;
  if (!nodeName)
    return {
      text: `pod ${target.namespace}/${target.pod} is not on a node yet; --nodes shows where it could go`,
      status: UNREADABLE,
    };
  const node = await cluster.read<V1Node>(
    `get node ${nodeName}`,
    `/api/v1/nodes/${encodeURIComponent(nodeName)}`,
  );
  if (!node.ok) return cannot(node);
  return onNode(pod.value, node.value, format);
}
