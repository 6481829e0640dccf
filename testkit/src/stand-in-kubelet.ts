/**
 * The kubelet's part, for the sidecar only: no kubelet runs in the local control plane, so for a pod bound to a
 * node this starts the real sidecar bundle as a process, as the kubelet would start its container: env resolved
 * from the persisted pod spec (downward API included), and a token obtained through TokenRequest, bound to the
 * pod, for the pod's ServiceAccount. When the pod is deleted it stops the sidecar and finalises the deletion
 * (a kubelet deletes the pod object with grace 0 once its containers have stopped).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { SIDECAR_CONTAINER } from '@sidecar-destruct/core';
import type { ControlPlane } from './controlplane.js';
import { SIDECAR_RUNTIME, sidecarRuntime } from './runtime.js';
import { until } from './until.js';

export const SIDECAR_BUNDLE = fileURLToPath(new URL('../../sidecar/dist/sidecar.cjs', import.meta.url));
export { SIDECAR_CONTAINER };

export interface LogLine {
  readonly msg: string;
  readonly level: string;
  readonly [field: string]: unknown;
}

export interface RunningSidecar {
  readonly pod: V1Pod;
  /** Replaces the projected token, as the kubelet does when it rotates it. */
  rotateToken(token: string): Promise<void>;
  /** A fresh TokenRequest token for the pod's account, bound to the pod. */
  freshToken(): Promise<string>;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** Resolves with the first log line (already seen or to come) that satisfies `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

function sidecarContainer(pod: V1Pod): V1Container {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const container = all.find((c) => c.name === SIDECAR_CONTAINER);
  if (!container) throw new Error(`pod ${pod.metadata?.name} has no ${SIDECAR_CONTAINER} container`);
  return container;
}

/** Resolves env as the kubelet does: literal values and downward-API field references. */
function resolveEnv(pod: V1Pod, env: readonly V1EnvVar[]): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
  };
  const out: Record<string, string> = {};
  for (const v of env) {
    const fieldPath = v.valueFrom?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) {
      const value = fields[fieldPath];
      if (value === undefined) throw new Error(`cannot resolve fieldRef ${fieldPath}`);
      out[v.name] = value;
    } else {
      out[v.name] = v.value ?? '';
    }
  }
  return out;
}

export interface SidecarOptions {
  /** Written into the token file instead of the TokenRequest token (to test a bad or rotated token). */
  readonly token?: string;
  /** Where the sidecar finds the API server instead of the control plane itself (e.g. a fault-injecting proxy). */
  readonly apiServer?: { readonly host: string; readonly port: number; readonly caPem: string };
  /** More runtime options before the bundle (e.g. `--require` a test-only clock). */
  readonly runtimeOptions?: readonly string[];
  /**
   * A copy of the sidecar's runtime to run the bundle with (the benchmarks run sidecars from a copy of the binary,
   * so that the file pages they share are not also shared with other processes).
   */
  readonly executable?: string;
  /**
   * The whole command instead of the sidecar's runtime and bundle (e.g. an image's own runtime and bundle under
   * qemu-user, or the bundle on Node for the benchmark's comparison); the harness appends `--service-account-dir DIR`.
   */
  readonly command?: readonly string[];
}

export async function startSidecar(
  cp: ControlPlane,
  namespace: string,
  name: string,
  options: SidecarOptions = {},
): Promise<RunningSidecar> {
  const pod = await readBoundPod(cp, namespace, name);
  const container = sidecarContainer(pod);
  const requestToken = () => requestPodToken(cp, pod, namespace, name);
  const dir = await projectServiceAccount(
    cp,
    namespace,
    name,
    options.token ?? (await requestToken()),
    options,
  );
  const child = spawnSidecar(cp, pod, container, dir, options);
  const log = new SidecarLog(child);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    pod,
    child,
    logs: log.lines,
    exited,
    rotateToken: (token) => replaceToken(join(dir, 'token'), token),
    freshToken: requestToken,
    waitForLog: (predicate, timeoutMs = 10_000) => log.waitFor(predicate, timeoutMs),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function readBoundPod(cp: ControlPlane, namespace: string, name: string): Promise<V1Pod> {
  const got = await cp.rest('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
  if (got.status !== 200) throw new Error(`cannot read pod ${namespace}/${name}: ${got.status}`);
  const pod = got.body as V1Pod;
  if (!pod.spec?.nodeName) throw new Error(`pod ${namespace}/${name} is not bound to a node`);
  return pod;
}

/** A token bound to the pod, for the pod's account: what the kubelet projects into the container. */
async function requestPodToken(
  cp: ControlPlane,
  pod: V1Pod,
  namespace: string,
  name: string,
): Promise<string> {
  const serviceAccount = pod.spec?.serviceAccountName ?? 'default';
  const reply = await cp.rest(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata?.uid },
      },
    },
  );
  if (reply.status !== 201) {
    throw new Error(`TokenRequest for ${serviceAccount}: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  return reply.body.status.token;
}

/** The projected ServiceAccount volume (token, CA, namespace) in a directory of its own; returns the directory. */
async function projectServiceAccount(
  cp: ControlPlane,
  namespace: string,
  name: string,
  token: string,
  options: SidecarOptions,
): Promise<string> {
  const dir = await mkdtemp(join(cp.dir, `pod-${name}-`));
  await writeFile(join(dir, 'token'), token, { mode: 0o600 });
  if (options.apiServer) await writeFile(join(dir, 'ca.crt'), options.apiServer.caPem);
  else await copyFile(cp.caFile, join(dir, 'ca.crt'));
  await writeFile(join(dir, 'namespace'), namespace);
  return dir;
}

/** Replaces the token file in one step, as the kubelet does when it rotates the token. */
async function replaceToken(tokenFile: string, token: string): Promise<void> {
  await writeFile(`${tokenFile}.new`, token, { mode: 0o600 });
  await rename(`${tokenFile}.new`, tokenFile);
}

/** Starts the sidecar's process with the service env the kubelet gives every container and the container's env. */
function spawnSidecar(
  cp: ControlPlane,
  pod: V1Pod,
  container: V1Container,
  serviceAccountDir: string,
  options: SidecarOptions,
): ChildProcess {
  const { hostname, port } = options.apiServer
    ? { hostname: options.apiServer.host, port: String(options.apiServer.port) }
    : new URL(cp.server);
  const env = resolveEnv(pod, container.env ?? []);
  const [program, ...args] = options.command ?? [
    options.executable ?? sidecarRuntime(),
    ...SIDECAR_RUNTIME.flags,
    ...(options.runtimeOptions ?? []),
    SIDECAR_BUNDLE,
  ];
  return spawn(program ?? sidecarRuntime(), [...args, '--service-account-dir', serviceAccountDir], {
    env: {
      PATH: process.env.PATH ?? '',
      ...SIDECAR_RUNTIME.env,
      KUBERNETES_SERVICE_HOST: hostname,
      KUBERNETES_SERVICE_PORT: port,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The sidecar's output as log lines (JSON, or `raw` when not), and the waits for a line to come. */
class SidecarLog {
  readonly lines: LogLine[] = [];
  private readonly waiters: Array<{ predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  private buffer = '';

  constructor(child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => this.read(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.add(chunk.toString().trim()));
  }

  /** Resolves with the first line (already seen or to come) that satisfies `predicate`. */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const seen = this.lines.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(this.timedOut(timeoutMs))), timeoutMs);
      this.waiters.push({
        predicate,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  private timedOut(timeoutMs: number): string {
    return `no such log line within ${timeoutMs} ms; logs:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`;
  }

  /** stdout comes in chunks that need not end at a line's end. */
  private read(chunk: Buffer): void {
    this.buffer += chunk.toString();
    let i = this.buffer.indexOf('\n');
    while (i >= 0) {
      this.add(this.buffer.slice(0, i));
      this.buffer = this.buffer.slice(i + 1);
      i = this.buffer.indexOf('\n');
    }
  }

  private add(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 'raw', msg: text };
    }
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      if (w.predicate(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }
}

/**
 * Plays the kubelet of some nodes: starts the sidecar of every pod bound to them, marks the pod Running and
 * Ready (so that Deployments and PodDisruptionBudgets count it), and when the pod is deleted stops the sidecar
 * and removes the pod object, as a kubelet does once the containers have stopped.
 */
export class StandInKubelet {
  private readonly sidecars = new Map<string, RunningSidecar>();
  private readonly starting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  /** Failures to start a sidecar, kept for the test's error message. */
  readonly errors: string[] = [];

  constructor(
    private readonly cp: ControlPlane,
    readonly nodes: ReadonlySet<string>,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    // An API server that is away (a test restarts it) is simply read again at the next tick.
    this.timer = setInterval(() => void this.tick().catch(() => undefined), this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.sidecars.values()].map((s) => s.stop()));
  }

  /** The sidecar of the pod with this uid, once started. */
  sidecar(uid: string): RunningSidecar | undefined {
    return this.sidecars.get(uid);
  }

  waitForSidecar(uid: string, timeoutMs = 15_000): Promise<RunningSidecar> {
    return until(
      () => `a sidecar for pod ${uid}; ${this.errors.slice(-3).join('; ')}`,
      async () => this.sidecars.get(uid),
      timeoutMs,
      20,
    );
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const list = await this.cp.rest('GET', '/api/v1/pods');
      if (list.status !== 200) return;
      for (const pod of list.body.items as V1Pod[]) {
        const node = pod.spec?.nodeName;
        const uid = pod.metadata?.uid ?? '';
        const namespace = pod.metadata?.namespace ?? '';
        const name = pod.metadata?.name ?? '';
        if (!node || !this.nodes.has(node)) continue;
        if (pod.metadata?.deletionTimestamp) {
          await this.sidecars.get(uid)?.stop();
          this.sidecars.delete(uid);
          await this.cp.rest('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
            apiVersion: 'v1',
            kind: 'DeleteOptions',
            gracePeriodSeconds: 0,
            preconditions: { uid },
          });
          continue;
        }
        if (this.sidecars.has(uid) || this.starting.has(uid)) continue;
        this.starting.add(uid);
        void this.run(pod, namespace, name, uid).finally(() => this.starting.delete(uid));
      }
    } finally {
      this.ticking = false;
    }
  }

  private async run(pod: V1Pod, namespace: string, name: string, uid: string): Promise<void> {
    const injected = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some(
      (c) => c.name === SIDECAR_CONTAINER,
    );
    try {
      if (injected) this.sidecars.set(uid, await startSidecar(this.cp, namespace, name));
      else this.sidecars.set(uid, NO_SIDECAR);
      const now = new Date().toISOString();
      await this.cp.rest(
        'PATCH',
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        {
          status: {
            phase: 'Running',
            startTime: now,
            conditions: [
              { type: 'Ready', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
            ],
          },
        },
        { contentType: 'application/merge-patch+json' },
      );
    } catch (e) {
      this.errors.push(`${namespace}/${name}: ${(e as Error).message}`);
    }
  }
}

/** Stands for "running, without a sidecar" in the kubelet's table. */
const NO_SIDECAR: RunningSidecar = {
  pod: {},
  rotateToken: async () => {},
  freshToken: async () => '',
  child: undefined as unknown as ChildProcess,
  logs: [],
  waitForLog: () => Promise.reject(new Error('this pod has no sidecar')),
  exited: Promise.resolve(0),
  stop: async () => {},
};
