/**
 * Shared pieces of the benchmark scripts: the API calls, the pods of each scenario, the deletion clock (a watch),
 * process memory as the kernel accounts it, and the tools built from the Go module proxy.
 */
import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { ruleOf, type Settings } from '@sidecar-destruct/core';
import { podWithSidecar } from '@sidecar-destruct/infra';
import { type ControlPlane, registerNode, setNodeLabels, USB_LABEL } from '@sidecar-destruct/testkit';
import { ROOT_DIR } from './results.ts';
import type { Scenario } from './tables.ts';

export const NS = 'bench';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

/** A node with the device's label (registered once, relabelled after). */
export async function ensureNode(cp: ControlPlane, name: string): Promise<void> {
  const existing = await cp.rest('GET', `/api/v1/nodes/${name}`);
  // The hostname label, as a kubelet sets it: the `nofit` scenario names its node by it.
  if (existing.status === 404)
    await registerNode(cp, name, { [USB_LABEL]: 'true', 'kubernetes.io/hostname': name });
  else await setNodeLabels(cp, name, { [USB_LABEL]: 'true' });
}

/**
 * What the pod asks of its node (bench/tables.ts names the scenarios). Every pod has an owner (a ReplicaSet, as a
 * Deployment's pods do: the descheduler leaves bare pods alone) and no resource requests (any other labelled node
 * fits it); `nofit` also names its own node in the affinity, so that once the label goes no node fits.
 */
function scenarioSpec(scenario: Scenario, node: string): Partial<NonNullable<V1Pod['spec']>> {
  if (scenario === 'selector') return { nodeSelector: { [USB_LABEL]: 'true' } };
  const expressions = [{ key: USB_LABEL, operator: 'In', values: ['true'] }];
  if (scenario === 'nofit')
    expressions.push({ key: 'kubernetes.io/hostname', operator: 'In', values: [node] });
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: expressions }],
      },
    },
  };
  if (scenario !== 'hostpath') return { affinity };
  return { affinity, volumes: [{ name: 'stick', hostPath: { path: '/dev/ttyUSB0', type: 'CharDevice' } }] };
}

/** The pod of a scenario, bound to `node`; with the sidecar as the webhook injects it when `settings` are given. */
export function scenarioPod(name: string, node: string, scenario: Scenario, settings?: Settings): V1Pod {
  const spec = scenarioSpec(scenario, node);
  const base: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { nodeName: node, containers: [] },
  };
  let pod: V1Pod = base;
  if (settings) {
    const rule = ruleOf({ spec: { containers: [], ...spec } });
    if (!rule.ok) throw new Error(rule.error);
    pod = podWithSidecar(name, node, rule.value, settings);
  }
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      name,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${name}-rs`,
          uid: '00000000-0000-4000-8000-000000000000',
          controller: true,
        },
      ],
    },
    spec: {
      ...pod.spec,
      ...spec,
      nodeName: node,
      containers: [
        {
          name: 'app',
          image: 'busybox',
          volumeMounts: spec.volumes ? [{ name: 'stick', mountPath: '/dev/ttyUSB0' }] : [],
        },
      ],
    },
  };
}

export async function createPod(cp: ControlPlane, pod: V1Pod): Promise<string> {
  const created = await rest(cp, 'POST', `/api/v1/namespaces/${NS}/pods`, pod);
  return created.metadata.uid as string;
}

/**
 * The deletion clock: one watch on the benchmark's pods; a pod counts as acted on when the API server first reports
 * it terminating (deletionTimestamp set, which is what delete and eviction both do with no kubelet to finish them)
 * or gone. Times are this process's performance.now(), the same clock the label removal is stamped with.
 */
export class Deletions {
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(t: number) => void>>();
  private resourceVersion = '';
  private closed = false;
  private fatal?: Error;
  /** When the watch ended and was resumed. */
  private readonly interruptions: number[] = [];
  private current?: ReturnType<typeof request>;

  private readonly cp: ControlPlane;

  private constructor(cp: ControlPlane) {
    this.cp = cp;
  }

  static async start(cp: ControlPlane): Promise<Deletions> {
    const d = new Deletions(cp);
    const list = await rest(cp, 'GET', `/api/v1/namespaces/${NS}/pods?limit=1`);
    d.resourceVersion = list.metadata.resourceVersion;
    await d.open();
    return d;
  }

  private async open(): Promise<void> {
    const ca = await readFile(this.cp.caFile);
    const url = new URL(
      `/api/v1/namespaces/${NS}/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=3600&resourceVersion=${this.resourceVersion}`,
      this.cp.server,
    );
    await new Promise<void>((resolve, reject) => {
      const req = request(url, { ca, headers: { authorization: `Bearer ${this.cp.adminToken}` } }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch pods: HTTP ${res.statusCode}`));
          return;
        }
        resolve();
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          const now = performance.now();
          buffer += chunk.toString();
          for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
            this.onEvent(JSON.parse(buffer.slice(0, i)), now);
            buffer = buffer.slice(i + 1);
          }
        });
        res.on('error', () => undefined);
        res.on('close', () => void this.reopen());
      });
      req.on('error', (e) => (this.closed ? resolve() : reject(e)));
      req.end();
      this.current = req;
    });
  }

  /**
   * The watch ended (its timeout, a reset): resume from the last resourceVersion. Trials that were waiting meanwhile
   * fail (see `wait`), since a deletion in the gap would be stamped late.
   */
  private async reopen(): Promise<void> {
    if (this.closed) return;
    this.interruptions.push(performance.now());
    for (let attempt = 1; attempt <= 10; attempt++) {
      try {
        await this.open();
        return;
      } catch {
        await sleep(1_000);
      }
    }
    this.fatal = new Error('the deletion clock: cannot watch the pods again');
  }

  private onEvent(event: { type: string; object: V1Pod }, now: number): void {
    if (event.type === 'ERROR') {
      // A 410: the history is gone, and with it the deletion times in it.
      this.fatal = new Error(`the deletion clock's watch failed: ${JSON.stringify(event.object)}`);
      this.stop();
      return;
    }
    const meta = event.object.metadata;
    if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
    if (event.type === 'BOOKMARK' || !meta?.uid) return;
    if (event.type !== 'DELETED' && !meta.deletionTimestamp) return;
    if (this.seen.has(meta.uid)) return;
    this.seen.set(meta.uid, now);
    for (const w of this.waiters.get(meta.uid) ?? []) w(now);
    this.waiters.delete(meta.uid);
  }

  /** Throws when the pod is already terminating: a trial whose pod went before its label did measures nothing. */
  expectLive(uid: string, what: string): void {
    if (this.seen.has(uid)) throw new Error(`${what}: the pod was terminating before the label was removed`);
  }

  /**
   * When the pod was first seen terminating, or undefined if not within `timeoutMs`. Throws when the watch was
   * interrupted while waiting: the time would be wrong, or "not within" untrue.
   */
  async wait(uid: string, timeoutMs: number): Promise<number | undefined> {
    const from = performance.now();
    const seen =
      this.seen.get(uid) ??
      (await new Promise<number | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        const list = this.waiters.get(uid) ?? [];
        list.push((t) => {
          clearTimeout(timer);
          resolve(t);
        });
        this.waiters.set(uid, list);
      }));
    if (this.fatal) throw this.fatal;
    if (this.interruptions.some((t) => t >= from)) {
      throw new Error(`the deletion clock's watch was interrupted while waiting for pod ${uid}`);
    }
    return seen;
  }

  stop(): void {
    this.closed = true;
    this.current?.destroy();
  }
}

/** Runs `jobs` with at most `limit` at a time, in order of start. */
export async function pool<T>(limit: number, jobs: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** Memory of one process as `/proc/PID/smaps_rollup` accounts it, in kB. */
export interface ProcessMemory {
  readonly rss: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  readonly pss: number;
  /** Unique set size: pages no other process maps (Private_Clean + Private_Dirty). */
  readonly uss: number;
}

export async function processMemory(pid: number): Promise<ProcessMemory> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rss: kb('Rss'), pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
}

/** A process and its descendants (a bash loop's kubectl, for instance). */
export async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [pid];
  for (let i = 0; i < out.length; i++) {
    const children = await readFile(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').catch(() => '');
    for (const c of children.split(' ').filter(Boolean)) out.push(Number(c));
  }
  return out;
}

/** Builds (once; cached outside the tree) the descheduler and vegeta; resolves with the directory holding both. */
export async function benchTools(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [`${ROOT_DIR}bench/tools/build.sh`], {
    maxBuffer: 1 << 24,
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

/** The versions of the tools, as their cache directory names them (bench/tools/build.sh). */
export function toolVersions(toolsDir: string): { descheduler: string; vegeta: string } {
  const m = /descheduler-(v[^-/]+)-vegeta-(v[^/]+)\/bin$/.exec(toolsDir);
  return { descheduler: m?.[1] ?? 'unknown', vegeta: m?.[2] ?? 'unknown' };
}

/**
 * A copy of a runtime's binary for one kind of process: the file pages its processes share are then shared with no
 * other process (a container image brings its own copy too). See bench/memory.ts.
 */
export async function binaryCopy(binary: string, dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await copyFile(binary, path);
  return path;
}

/** Removes the benchmark's pods named `prefix-…` at once (no kubelet is there to finish a graceful deletion). */
export async function deletePods(cp: ControlPlane, prefix: string): Promise<void> {
  const pods = await rest(cp, 'GET', `/api/v1/namespaces/${NS}/pods`);
  for (const p of pods.items) {
    if (String(p.metadata.name).startsWith(`${prefix}-`)) {
      await cp.rest('DELETE', `/api/v1/namespaces/${NS}/pods/${p.metadata.name}?gracePeriodSeconds=0`);
    }
  }
}

/** Removes the nodes named `prefix-…`. */
export async function deleteNodes(cp: ControlPlane, prefix: string): Promise<void> {
  const nodes = await rest(cp, 'GET', '/api/v1/nodes');
  for (const n of nodes.items) {
    if (String(n.metadata.name).startsWith(`${prefix}-`))
      await cp.rest('DELETE', `/api/v1/nodes/${n.metadata.name}`);
  }
}
