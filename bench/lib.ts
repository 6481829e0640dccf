/** Shared pieces of the benchmark scripts: statistics, process memory, the setup every sidecar scenario needs. */
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { DEFAULT_SETTINGS } from '@sidecar-destruct/sidecar/core';
import {
  type ControlPlane,
  sidecarNamespace as harnessNamespace,
  podWithSidecar,
  registerNode,
  startSidecar,
  until,
} from '@sidecar-destruct/test';

export const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
export const NS = 'bench';

export function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] ?? Number.NaN) + ((sorted[hi] ?? Number.NaN) - (sorted[lo] ?? Number.NaN)) * (i - lo);
}
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Memory {
  /** VmRSS: what the targets are stated in. */
  readonly rss: number;
  /** RssAnon: private memory; the node binary's file pages are shared by every Node process on a machine. */
  readonly anon: number;
}

export async function memoryMb(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field('VmRSS'), anon: field('RssAnon') };
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}`;
}

export async function rest(
  cp: ControlPlane,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
) {
  const reply = await cp.rest(method, path, body, contentType ? { contentType } : {});
  if (reply.status >= 300)
    throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export const setLabel = (cp: ControlPlane, node: string, value: string | null) =>
  rest(
    cp,
    'PATCH',
    `/api/v1/nodes/${node}`,
    { metadata: { labels: { [USB]: value } } },
    'application/merge-patch+json',
  );

/** The namespace with the sidecar's account and bindings (deploy/'s roles), as the webhook would leave it. */
export const sidecarNamespace = (cp: ControlPlane): Promise<void> => harnessNamespace(cp, NS);

export async function ensureNode(cp: ControlPlane, name: string): Promise<void> {
  const existing = await cp.rest('GET', `/api/v1/nodes/${name}`);
  if (existing.status === 404) await registerNode(cp, name, { [USB]: 'true' });
  else await setLabel(cp, name, 'true');
}

/** A pod bound to `node`, with the sidecar as the webhook injects it (or, for the baseline, without). */
export async function createPod(
  cp: ControlPlane,
  name: string,
  node: string,
  withSidecar = true,
): Promise<string> {
  // Grace 0: the benchmark measures the fastest reaction (the default grace period is 10 s).
  const pod = podWithSidecar(
    name,
    node,
    { source: 'pod', nodeSelector: { [USB]: 'true' } },
    {
      ...DEFAULT_SETTINGS,
      gracePeriodMs: 0,
    },
  );
  if (!withSidecar && pod.spec) delete pod.spec.initContainers;
  const created = await rest(cp, 'POST', `/api/v1/namespaces/${NS}/pods`, pod);
  return created.metadata.uid as string;
}

export async function startedSidecar(cp: ControlPlane, name: string, node: string) {
  await ensureNode(cp, node);
  const uid = await createPod(cp, name, node);
  const sidecar = await startSidecar(cp, NS, name);
  const watching = await sidecar.waitForLog((l) => l.msg === 'watching the node', 30_000);
  return { sidecar, uid, startupMs: watching.startupMs as number };
}

/** Resolves when every pod (by uid) is being deleted or gone, with the time each was first seen so. */
export function waitGone(
  cp: ControlPlane,
  uids: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  return until(
    () => `${uids.size - seen.size} pods to go`,
    async () => {
      const list = await rest(cp, 'GET', `/api/v1/namespaces/${NS}/pods`);
      const now = performance.now();
      const live = new Set<string>();
      for (const p of list.items) if (!p.metadata.deletionTimestamp) live.add(p.metadata.uid);
      for (const uid of uids) if (!live.has(uid) && !seen.has(uid)) seen.set(uid, now);
      return seen.size === uids.size ? seen : undefined;
    },
    timeoutMs,
  );
}

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly (string | number)[]>;
  readonly notes?: readonly string[];
}

export function markdown(table: Table): string {
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.join(' | ')} |`),
    ...(table.notes?.length ? ['', ...table.notes] : []),
    '',
  ].join('\n');
}
