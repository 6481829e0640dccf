/**
 * The five API calls the sidecar makes, over node:https. `@kubernetes/client-node` is used for its types only:
 * loading it costs about 87 MB of RSS and a second of start-up in every injected pod (measured on Node 24), more
 * than the whole rest of the sidecar. Every call answers with a value, never an exception, so that the caller
 * decides what an error means (for the sidecar: wait and retry, never delete). Every request ends when the
 * shutdown signal aborts, whatever it is waiting for.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { CoreV1Event, V1Node, V1Status } from '@kubernetes/client-node';
import type { Connection } from './credentials.js';

/** A request that got no usable answer, and why. */
export type ApiFailure =
  /** The server answered with an error status (a Kubernetes Status, when it sent one). */
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly reason: string;
      readonly message: string;
      /** The server's `Retry-After`, when it sent one (429, 503). */
      readonly retryAfterMs?: number;
    }
  /** No answer: connection refused or reset, TLS failure, timeout, shutdown. */
  | { readonly kind: 'unreachable'; readonly message: string }
  /** An answer that is not what the API sends: a body or a watch line that is not the JSON expected. */
  | { readonly kind: 'malformed'; readonly message: string }
  /** No request was made: the token could not be read. */
  | { readonly kind: 'no-credentials'; readonly message: string };

export type ApiReply<T> = { readonly kind: 'ok'; readonly status: number; readonly body: T } | ApiFailure;

export type WatchEvent =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; readonly object: V1Node }
  | { readonly type: 'ERROR'; readonly object: V1Status };

/** How a watch request ended. */
export type WatchEnd =
  /** The server closed the stream (its timeout): resume from the last resourceVersion. */
  { readonly kind: 'closed' } | { readonly kind: 'aborted' } | ApiFailure;

/** Where a watch starts: from a resourceVersion, or from now (nothing to resume from, e.g. a deleted node). */
export type WatchFrom = { readonly from: 'rv'; readonly rv: string } | { readonly from: 'now' };

export interface WatchRequestOptions {
  readonly timeoutSeconds: number;
  /** Abandon the stream when nothing, not even a bookmark, arrives for this long. */
  readonly idleTimeoutMs: number;
  /** The server accepted the watch (it sends its headers before any event). */
  readonly onOpen?: () => void;
}

export interface ApiOptions {
  /** A request that has not answered in this time is abandoned. */
  readonly requestTimeoutMs: number;
  /** Ends every request, in flight or to come (SIGTERM). */
  readonly signal: AbortSignal;
}

const WATCH_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

export class Api {
  private readonly agent: Agent;

  constructor(
    private readonly connection: Connection,
    private readonly options: ApiOptions,
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
    options.signal.addEventListener('abort', () => this.agent.destroy(), { once: true });
  }

  getNode(name: string): Promise<ApiReply<V1Node>> {
    return this.call('GET', `/api/v1/nodes/${encodeURIComponent(name)}`);
  }

  deletePod(namespace: string, name: string, uid: string): Promise<ApiReply<unknown>> {
    return this.call('DELETE', podPath(namespace, name), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid },
    });
  }

  evictPod(namespace: string, name: string, uid: string): Promise<ApiReply<unknown>> {
    return this.call('POST', `${podPath(namespace, name)}/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      deleteOptions: { preconditions: { uid } },
    });
  }

  createEvent(namespace: string, event: CoreV1Event): Promise<ApiReply<unknown>> {
    return this.call('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
  }

  /**
   * Watches one node, calling `onEvent` per event, until the stream ends. An exception thrown by `onEvent` is a
   * bug, not bad input: it ends the watch and rejects.
   */
  async watchNode(
    name: string,
    start: WatchFrom,
    options: WatchRequestOptions,
    onEvent: (event: WatchEvent) => void,
  ): Promise<WatchEnd> {
    const query = new URLSearchParams({
      fieldSelector: `metadata.name=${name}`,
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(options.timeoutSeconds),
      ...(start.from === 'rv' ? { resourceVersion: start.rv } : {}),
    });
    const opened = await this.send('GET', `/api/v1/nodes?${query}`, undefined);
    if (opened.kind !== 'open') return opened.kind === 'aborted' ? opened : opened.failure;
    const { req, res } = opened;
    if (res.statusCode !== 200) {
      try {
        return refusal(res, await text(res));
      } catch (e) {
        return this.options.signal.aborted ? { kind: 'aborted' } : unreachable(e);
      }
    }
    // The headers came in time; from now on only a stream silent for longer than the server's timeout is dead.
    req.setTimeout(options.idleTimeoutMs);
    options.onOpen?.();
    res.setEncoding('utf8');
    const lines = linesOf(res)[Symbol.asyncIterator]();
    for (;;) {
      let line: IteratorResult<string>;
      try {
        line = await lines.next();
      } catch (e) {
        return this.options.signal.aborted ? { kind: 'aborted' } : unreachable(e);
      }
      if (line.done) return { kind: 'closed' };
      const event = parseWatchEvent(line.value);
      if (event === undefined) {
        res.destroy();
        return {
          kind: 'malformed',
          message: `watch event is not JSON of a watch event: ${line.value.slice(0, 80)}`,
        };
      }
      onEvent(event);
    }
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<ApiReply<T>> {
    const opened = await this.send(method, path, body);
    if (opened.kind === 'aborted') return { kind: 'unreachable', message: 'aborted: shutting down' };
    if (opened.kind !== 'open') return opened.failure;
    const { res } = opened;
    let content: string;
    try {
      content = await text(res);
    } catch (e) {
      return unreachable(e);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) return refusal(res, content);
    try {
      return { kind: 'ok', status, body: (content ? JSON.parse(content) : undefined) as T };
    } catch {
      return { kind: 'malformed', message: `HTTP ${status} with a body that is not JSON` };
    }
  }

  /**
   * Sends a request and resolves when its response headers arrive, or it fails, is aborted, or its socket is
   * silent for the request timeout (watches included: the API server sends a watch's headers at once).
   */
  private async send(
    method: string,
    path: string,
    body: unknown,
  ): Promise<
    | { kind: 'open'; req: ClientRequest; res: IncomingMessage }
    | { kind: 'aborted' }
    | { kind: 'failed'; failure: ApiFailure }
  > {
    const { signal } = this.options;
    let token: string | undefined;
    try {
      token = await this.connection.token();
    } catch (e) {
      return {
        kind: 'failed',
        failure: { kind: 'no-credentials', message: `cannot read the token: ${(e as Error).message}` },
      };
    }
    // The signal may have fired while the token was being read: a listener added now would never be called.
    if (signal.aborted) return { kind: 'aborted' };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve) => {
      const req = request(this.url(path), {
        method,
        agent: this.agent,
        signal,
        headers: {
          accept: 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          // Content-Length explicitly: Node sends a DELETE body without it, and the API server then reads the
          // body as the next request on the kept-alive connection (answering that one 400).
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        },
      });
      const timeoutMs = this.options.requestTimeoutMs;
      req.setTimeout(timeoutMs, () => req.destroy(new Error("no data within the request's timeout")));
      req.on('error', (e) =>
        resolve(signal.aborted ? { kind: 'aborted' } : { kind: 'failed', failure: unreachable(e) }),
      );
      req.on('response', (res) => resolve({ kind: 'open', req, res }));
      req.end(payload);
    });
  }

  private url(path: string): URL {
    return new URL(
      path.replace(/^\//, ''),
      this.connection.server.href.endsWith('/') ? this.connection.server : `${this.connection.server.href}/`,
    );
  }
}

const podPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;

const unreachable = (e: unknown): ApiFailure => ({
  kind: 'unreachable',
  message: e instanceof Error ? e.message : String(e),
});

/** The non-empty lines of a stream; a last line cut off without its newline is yielded too (and then fails to parse). */
export async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) yield line;
      newline = buffer.indexOf('\n');
    }
  }
  if (buffer.trim()) yield buffer.trim();
}

/** One line of a watch stream, or undefined when it is not a watch event. */
export function parseWatchEvent(line: string): WatchEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, object } = value as { type?: unknown; object?: unknown };
  if (typeof type !== 'string' || !WATCH_TYPES.has(type)) return undefined;
  if (typeof object !== 'object' || object === null) return undefined;
  return value as WatchEvent;
}

async function text(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function refusal(res: IncomingMessage, content: string): ApiFailure {
  const status = res.statusCode ?? 0;
  const retryAfter = retryAfterMs(res.headers['retry-after'], Date.now());
  const extra = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
  try {
    const s = JSON.parse(content) as V1Status;
    return {
      kind: 'refused',
      status,
      reason: s.reason ?? '',
      message: s.message ?? content.slice(0, 200),
      ...extra,
    };
  } catch {
    return { kind: 'refused', status, reason: '', message: content.slice(0, 200), ...extra };
  }
}

/** The server's `Retry-After` of a failure, as a field to spread (none when it sent none). */
export const retryAfterOf = (f: ApiFailure): { retryAfterMs?: number } =>
  f.kind === 'refused' && f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {};

/** A failure in one line, for logs and Events. */
export const describeFailure = (f: ApiFailure): string =>
  f.kind === 'refused'
    ? `HTTP ${f.status}${f.reason ? ` ${f.reason}` : ''}: ${f.message}`
    : `${f.kind}: ${f.message}`;
