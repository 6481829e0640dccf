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

/** One request's whole life, connect to last byte; and the most a response may hold. */
const DEADLINE_MS = 30_000;
const MAX_BYTES = 64 * 1024 * 1024;

/** The server's URL for messages: no user or password that a URL may carry. */
const shown = (server: string): string => {
  try {
    const url = new URL(server);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return server;
  }
};

export class Cluster {
  /** The API server's URL, for messages. */
  readonly server: string;

  private readonly base: string;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.base = (kubeConfig.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
    this.server = shown(this.base);
  }

  /**
   * One request; resolves with the decoded body of a 2xx answer, rejects with ApiError otherwise. `path` is
   * appended to the server's URL, whose own path (a proxy's `/k8s/clusters/x`) is kept.
   */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    if (!this.base) throw new Error('the kubeconfig names no cluster');
    const url = new URL(`${this.base}${path}`);
    const options: Parameters<typeof request>[1] = { method, headers: { Accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload) Object.assign(options.headers ?? {}, { 'Content-Type': 'application/json' });
    return new Promise<T>((resolve, reject) => {
      const req = request(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BYTES) req.destroy(new Error(`an answer of more than ${MAX_BYTES / 1_048_576} MiB`));
          else chunks.push(c);
        });
        res.on('end', () =>
          settle(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), resolve, reject),
        );
        res.on('error', reject);
      });
      const deadline = setTimeout(
        () => req.destroy(new Error(`no whole answer from ${this.server} within ${DEADLINE_MS / 1000} s`)),
        DEADLINE_MS,
      );
      req.on('close', () => clearTimeout(deadline));
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
      // 403: it answered and knows who asks; anything else from /version is not a working API server.
      if (e instanceof ApiError && e.code === 403) return undefined;
      if (e instanceof ApiError)
        return `${this.server} is not a working API server: /version gave HTTP ${e.code}`;
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

/** Ends a request: a 2xx body decoded (a body that is not JSON is an error, not a crash), else an ApiError. */
function settle<T>(status: number, text: string, resolve: (v: T) => void, reject: (e: Error) => void): void {
  if (status < 200 || status >= 300) {
    reject(new ApiError(status, messageOf(text)));
    return;
  }
  try {
    resolve(JSON.parse(text) as T);
  } catch {
    reject(new Error(`HTTP ${status} with a body that is not JSON: ${text.slice(0, 80)}`));
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
