/**
 * `kubectl sidecar-destruct status [-A | -n NS]`: one row per opted-in pod (pure/status.ts), with what RBAC hid
 * said below the table. Exit 0 every pod is protected, 1 a row shows a problem, 2 the pods could not be listed.
 */
import type { CoreV1Event, V1Namespace, V1Node, V1Pod, V1RoleBinding } from '@kubernetes/client-node';
import { bindingNames } from '@sidecar-destruct/webhook/grants';
import type { Cluster } from './cluster.js';
import type { Answer } from './explain.js';
import { type Format, render, table } from './output.js';
import { cannotRead, type Seen } from './pure/check.js';
import { holdsRoles, optedIn, type StatusRow, statusRow } from './pure/status.js';

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

const hidden = (seen: Seen<unknown>): string[] => (seen.ok ? [] : [cannotRead(seen)]);

/** Whether each account (namespace/name) holds the sidecar roles; undefined where its bindings were hidden. */
async function rolesOf(cluster: Cluster, pods: readonly V1Pod[]): Promise<Map<string, boolean | undefined>> {
  const out = new Map<string, boolean | undefined>();
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.spec?.serviceAccountName ?? 'default';
    const key = `${namespace}/${name}`;
    if (out.has(key)) continue;
    const names = bindingNames({ namespace, name });
    const [rb, crb] = await Promise.all([
      cluster.read<V1RoleBinding>(
        `get rolebinding ${namespace}/${names.roleBinding}`,
        `${RBAC}/namespaces/${namespace}/rolebindings/${encodeURIComponent(names.roleBinding)}`,
      ),
      cluster.read<V1RoleBinding>(
        `get clusterrolebinding ${names.clusterRoleBinding}`,
        `${RBAC}/clusterrolebindings/${encodeURIComponent(names.clusterRoleBinding)}`,
      ),
    ]);
    const unknown = [rb, crb].some((s) => !s.ok && s.why !== 'missing');
    out.set(
      key,
      unknown ? undefined : holdsRoles(pod, rb.ok ? rb.value : undefined, crb.ok ? crb.value : undefined),
    );
  }
  return out;
}

function rowsOf(
  pods: readonly V1Pod[],
  nodes: Seen<V1Node[]>,
  events: Seen<CoreV1Event[]>,
  roles: ReadonlyMap<string, boolean | undefined>,
): StatusRow[] {
  const byName = new Map((nodes.ok ? nodes.value : []).map((n) => [n.metadata?.name ?? '', n]));
  return pods.map((pod) =>
    statusRow({
      pod,
      node: byName.get(pod.spec?.nodeName ?? ''),
      ...(nodes.ok ? {} : { nodeUnread: 'cannot list nodes' }),
      events: events.ok
        ? events.value.filter((e) => e.involvedObject.namespace === pod.metadata?.namespace)
        : undefined,
      roles: roles.get(`${pod.metadata?.namespace}/${pod.spec?.serviceAccountName ?? 'default'}`),
    }),
  );
}

function human(rows: readonly StatusRow[], unread: readonly string[], allNamespaces: boolean): string {
  const headers = ['pod', 'node', 'rule', 'verdict', 'grace', 'injected', 'roles', 'last event'];
  const cells = rows.map((r) => [
    r.pod,
    r.node,
    r.rule,
    r.verdict,
    r.grace,
    r.injection,
    r.roles,
    r.lastEvent,
  ]);
  const body =
    rows.length === 0
      ? 'No opted-in pods.\n'
      : table(
          allNamespaces ? ['namespace', ...headers] : headers,
          allNamespaces ? cells.map((c, i) => [rows[i]?.namespace ?? '', ...c]) : cells,
        );
  const problems = rows.flatMap((r) => r.problems.map((p) => `! ${r.namespace}/${r.pod}: ${p}`));
  const notes = unread.map((u) => `? ${u}`);
  return (
    [body.trimEnd(), ...(problems.length + notes.length > 0 ? ['', ...problems, ...notes] : [])].join('\n') +
    '\n'
  );
}

/** 1 when a row shows a problem; else 3 when something could not be read (a verdict, roles, events); else 0. */
function statusExit(rows: readonly StatusRow[], unread: readonly string[]): number {
  if (rows.some((r) => r.problems.length > 0)) return 1;
  const unknown = rows.some((r) => r.verdict.startsWith('unknown') || r.roles === 'unknown');
  return unknown || unread.length > 0 ? 3 : 0;
}

export async function statusOf(
  cluster: Cluster,
  namespace: string | undefined,
  format: Format,
): Promise<Answer> {
  const pods = await cluster.pods(namespace);
  if (!pods.ok) return { text: hidden(pods)[0] ?? '', status: 2 };
  const [namespaces, nodes, events] = await Promise.all([
    cluster.namespaces(),
    cluster.nodes(),
    cluster.events(namespace),
  ]);
  const byName = new Map<string, V1Namespace>(
    (namespaces.ok ? namespaces.value : []).map((n) => [n.metadata?.name ?? '', n]),
  );
  const chosen = pods.value.filter((p) => optedIn(p, byName.get(p.metadata?.namespace ?? '')));
  const roles = await rolesOf(cluster, chosen);
  const rows = rowsOf(chosen, nodes, events, roles);
  const unread = [
    ...hidden(namespaces).map((h) => `${h}: pods opted in only by their namespace's label are not shown`),
    ...hidden(nodes).map((h) => `${h}: verdicts unknown`),
    ...hidden(events).map((h) => `${h}: last events unknown`),
    ...([...roles.values()].includes(undefined) ? ['cannot get some role bindings: roles unknown'] : []),
  ];
  return {
    text: render(format, { pods: rows, unread }, () => human(rows, unread, namespace === undefined)),
    status: statusExit(rows, unread),
  };
}
