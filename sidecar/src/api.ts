/**
 * The five API calls the sidecar makes, over node:https. `@kubernetes/client-node` is used for its types only:
 * loading it costs about 87 MB of RSS and a second of start-up in every injected pod (measured on Node 24), more
 * than the whole rest of the sidecar. Every call answers with a value, never an exception, so that the caller
 * decides what an error means (for the sidecar: wait and retry, never delete).
 */
import { Agent, request } from 'node:https';
import type { CoreV1Event, V1Node, V1Status } from '@kubernetes/client-node';
import type { Connection } from './credentials.js';

export type Reply<T> =
  | { readonly kind: 'ok'; readonly status: number; readonly body: T }
  /** The server answered with an error status (a Kubernetes Status, when it sent one). */
  | { readonly kind: 'refused'; readonly status: number; readonly reason: string; readonly message: string }
  /** No answer: connection refused or reset, TLS failure, timeout, unreadable token. */
  | { readonly kind: 'unreachable'; readonly message: string };

export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; readonly object: V1Node }
  | { readonly type: 'ERROR'; readonly object: V1Status };

/** How a watch request ended. */
export type WatchEnd =
  /** The server closed the stream (its timeout): resume from the last resourceVersion. */
  { readonly kind: 'closed' } | { readonly kind: 'aborted' } | Exclude<Reply<never>, { kind: 'ok' }>;

export interface WatchRequestOptions {
  readonly timeoutSeconds: number;
  /** Abandon the stream when nothing, not even a bookmark, arrives for this long. */
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal;
  /** The server accepted the watch (it sends its headers before any event). */
  readonly onOpen?: () => void;
}

export interface ApiOptions {
  /** A request that has not answered in this time is abandoned. */
  readonly requestTimeoutMs: number;
}

export class Api {
  private readonly agent: Agent;

  constructor(
    private readonly connection: Connection,
    private readonly options: ApiOptions = { requestTimeoutMs: 10_000 },
  ) {
    this.agent = new Agent({
      keepAlive: true,
      // Detects a half-open watch connection (an API server that vanished without a FIN).
      keepAliveMsecs: 15_000,
      maxSockets: 4,
      ...(connection.ca ? { ca: connection.ca } : {}),
      ...(connection.clientCert ? { cert: connection.clientCert } : {}),
      ...(connection.clientKey ? { key: connection.clientKey } : {}),
      rejectUnauthorized: connection.insecureSkipTlsVerify !== true,
    });
  }

  close(): void {
    this.agent.destroy();
  }

  getNode(name: string): Promise<Reply<V1Node>> {
    return this.call('GET', `/api/v1/nodes/${encodeURIComponent(name)}`);
  }

  deletePod(namespace: string, name: string, uid: string): Promise<Reply<unknown>> {
    return this.call('DELETE', podPath(namespace, name), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid },
    });
  }

  evictPod(namespace: string, name: string, uid: string): Promise<Reply<unknown>> {
    return this.call('POST', `${podPath(namespace, name)}/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      deleteOptions: { preconditions: { uid } },
    });
  }

  createEvent(namespace: string, event: CoreV1Event): Promise<Reply<unknown>> {
    return this.call('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
  }

  /** Watches one node from `resourceVersion` (or from now, when undefined), calling `onEvent` per event. */
  async watchNode(
    name: string,
    resourceVersion: string | undefined,
    options: WatchRequestOptions,
    onEvent: (event: WatchEvent) => void,
  ): Promise<WatchEnd> {
    const query = new URLSearchParams({
      fieldSelector: `metadata.name=${name}`,
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(options.timeoutSeconds),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    });
    const headers = await this.headers();
    if (!headers.ok) return { kind: 'unreachable', message: headers.message };
    return new Promise<WatchEnd>((resolvePromise) => {
      let settled = false;
      const finish = (end: WatchEnd): void => {
        if (settled) return;
        settled = true;
        options.signal.removeEventListener('abort', onAbort);
        resolvePromise(end);
      };
      const req = request(this.url(`/api/v1/nodes?${query}`), {
        method: 'GET',
        agent: this.agent,
        headers: headers.value,
      });
      const onAbort = (): void => {
        req.destroy();
        finish({ kind: 'aborted' });
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(options.idleTimeoutMs, () => {
        req.destroy();
        finish({ kind: 'unreachable', message: `watch idle for ${options.idleTimeoutMs} ms` });
      });
      req.on('error', (e) => finish({ kind: 'unreachable', message: e.message }));
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          collect(res, (text) => finish(refusal(res.statusCode ?? 0, text)));
          return;
        }
        options.onOpen?.();
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let newline = buffer.indexOf('\n');
          while (newline >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line) {
              try {
                onEvent(JSON.parse(line) as WatchEvent);
              } catch {
                req.destroy();
                finish({ kind: 'unreachable', message: 'malformed watch event' });
                return;
              }
            }
            newline = buffer.indexOf('\n');
          }
        });
        res.on('end', () => finish({ kind: 'closed' }));
        res.on('error', (e) => finish({ kind: 'unreachable', message: e.message }));
        res.on('aborted', () => finish({ kind: 'unreachable', message: 'watch connection lost' }));
      });
      req.end();
    });
  }

  private url(path: string): URL {
    return new URL(
      path.replace(/^\//, ''),
      this.connection.server.href.endsWith('/') ? this.connection.server : `${this.connection.server.href}/`,
    );
  }

  private async headers(): Promise<
    { ok: true; value: Record<string, string> } | { ok: false; message: string }
  > {
    let token: string | undefined;
    try {
      token = await this.connection.token();
    } catch (e) {
      return { ok: false, message: `cannot read the token: ${(e as Error).message}` };
    }
    return {
      ok: true,
      value: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<Reply<T>> {
    const headers = await this.headers();
    if (!headers.ok) return { kind: 'unreachable', message: headers.message };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<Reply<T>>((resolvePromise) => {
      const req = request(this.url(path), {
        method,
        agent: this.agent,
        // Content-Length explicitly: Node sends a DELETE body without it, and the API server then reads the body
        // as the next request on the kept-alive connection (answering that one 400).
        headers:
          payload === undefined
            ? headers.value
            : {
                ...headers.value,
                'content-type': 'application/json',
                'content-length': String(Buffer.byteLength(payload)),
              },
        timeout: this.options.requestTimeoutMs,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.requestTimeoutMs} ms`)));
      req.on('error', (e) => resolvePromise({ kind: 'unreachable', message: e.message }));
      req.on('response', (res) =>
        collect(res, (text) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return resolvePromise(refusal(status, text));
          try {
            resolvePromise({ kind: 'ok', status, body: (text ? JSON.parse(text) : undefined) as T });
          } catch {
            resolvePromise({ kind: 'unreachable', message: `HTTP ${status} with a body that is not JSON` });
          }
        }),
      );
      req.end(payload);
    });
  }
}

const podPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

function collect(res: NodeJS.ReadableStream, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
  res.on('error', () => done(''));
}

function refusal(
  status: number,
  text: string,
): { kind: 'refused'; status: number; reason: string; message: string } {
  try {
    const s = JSON.parse(text) as V1Status;
    return { kind: 'refused', status, reason: s.reason ?? '', message: s.message ?? text.slice(0, 200) };
  } catch {
    return { kind: 'refused', status, reason: '', message: text.slice(0, 200) };
  }
}
