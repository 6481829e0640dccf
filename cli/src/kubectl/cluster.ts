/**
 * The plugin's reads, each turned into a `Seen` value: a 403 becomes "forbidden" with what was asked, so that a
 * command can say what RBAC hid instead of failing; nothing here writes (the one dry run says so).
 *
 * Requests go through node:https with the credentials client-node's KubeConfig resolves (certificates, tokens,
 * exec plugins: `applyToHTTPSOptions`), not through client-node's fetch layer, which the compiled Bun executable
 * does not give the kubeconfig's CA.
 */
import { request } from 'node:https';
import type { CoreV1Event, KubeConfig, V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Seen } from './pure/check.js';

/** A refusal by the API server: its HTTP status and Status message. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 30_000;

export class Cluster {
  /** The API server's URL, for messages. */
  readonly server: string;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '';
  }

  /** One request; resolves with the decoded body of a 2xx answer, rejects with ApiError otherwise. */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    if (!this.server) throw new Error('the kubeconfig names no cluster');
    const url = new URL(path, this.server);
    const options: Parameters<typeof request>[1] = { method, headers: { Accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload) Object.assign(options.headers ?? {}, { 'Content-Type': 'application/json' });
    return new Promise<T>((resolve, reject) => {
      const req = request(url, { ...options, timeout: TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(JSON.parse(text) as T);
          else reject(new ApiError(status, messageOf(text)));
        });
        res.on('error', reject);
      });
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from ${this.server} within ${TIMEOUT_MS / 1000} s`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Why no command can run against this cluster (no server, no answer, credentials refused), or undefined. */
  async unusable(): Promise<string | undefined> {
    if (!this.server) return 'the kubeconfig names no cluster for its current context';
    try {
      await this.get('/version');
      return undefined;
    } catch (e) {
      if (e instanceof ApiError && e.code === 401)
        return `the API server at ${this.server} refused the credentials (HTTP 401)`;
      if (e instanceof ApiError) return undefined;
      return `cannot reach the API server at ${this.server}: ${(e as Error).message}`;
    }
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** Runs one read; `what` says it in kubectl's words ("list nodes", "get secret ns/name"). */
  async seen<T>(what: string, read: () => Promise<T>): Promise<Seen<T>> {
    try {
      return { ok: true, value: await read() };
    } catch (e) {
      if (e instanceof ApiError) {
        if (e.code === 403) return { ok: false, why: 'forbidden', what, message: 'forbidden' };
        if (e.code === 404) return { ok: false, why: 'missing', what, message: 'not found' };
        return { ok: false, why: 'error', what, message: `HTTP ${e.code}: ${e.message}` };
      }
      return { ok: false, why: 'error', what, message: `${(e as Error).message} (${this.server})` };
    }
  }

  /** `GET path` into a Seen, `what` saying it. */
  read<T>(what: string, path: string): Promise<Seen<T>> {
    return this.seen(what, () => this.get<T>(path));
  }

  /** The items of a list, each with the kind and apiVersion a list leaves out (core's parsers check them). */
  list<T>(what: string, path: string): Promise<Seen<T[]>> {
    return this.seen(what, async () => {
      const list = await this.get<{ kind?: string; apiVersion?: string; items: T[] }>(path);
      const kind = list.kind?.replace(/List$/, '');
      return list.items.map((item) => ({ apiVersion: list.apiVersion, kind, ...item }));
    });
  }

  nodes(): Promise<Seen<V1Node[]>> {
    return this.list('list nodes', '/api/v1/nodes');
  }

  /** Pods of one namespace, or of all with `namespace` undefined. */
  pods(namespace: string | undefined): Promise<Seen<V1Pod[]>> {
    return namespace
      ? this.list(`list pods in ${namespace}`, `/api/v1/namespaces/${namespace}/pods`)
      : this.list('list pods in all namespaces', '/api/v1/pods');
  }

  namespaces(labelSelector?: string): Promise<Seen<V1Namespace[]>> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    return this.list('list namespaces', `/api/v1/namespaces${query}`);
  }

  events(namespace: string | undefined): Promise<Seen<CoreV1Event[]>> {
    return namespace
      ? this.list(`list events in ${namespace}`, `/api/v1/namespaces/${namespace}/events`)
      : this.list('list events in all namespaces', '/api/v1/events');
  }
}

/** The `message` of a Status body, or the body itself, shortened. */
function messageOf(text: string): string {
  try {
    const status = JSON.parse(text) as { message?: string };
    return (status.message ?? text).slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
