/**
 * A fault-injecting HTTPS proxy on loopback, between sidecars and the real kube-apiserver, for the soak test.
 * While faults are on, each request draws one outcome from a seeded mix: pass through, connection reset, stall
 * (never answer), 500, 429 with Retry-After, 410 on a watch, a truncated response, a 401 for the token; a watch
 * that passes is also cut at a random moment. It counts requests per bearer token (one per sidecar), so a test
 * can bound each sidecar's request rate, and it resets every client connection while the API server is down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { loopbackServingCertificate } from './loopback.js';

export type Fault =
  | 'reset'
  | 'stall'
  | 'error500'
  | 'throttle429'
  | 'gone410'
  | 'truncate'
  | 'unauthorized401';

/** The share of requests that meet each fault while faults are on; the rest pass. */
export type FaultMix = Readonly<Record<Fault, number>>;

export interface FaultProxyOptions {
  /** The API server: its URL and the CA that verifies it. */
  readonly target: { readonly url: string; readonly caPem: string };
  readonly seed: number;
  readonly mix: FaultMix;
  /** A watch that passes is cut after a random time up to this (ms), while faults are on. */
  readonly maxWatchMs: number;
  /** More addresses its certificate names, besides 127.0.0.1 and localhost (a qemu guest reaches it at 10.0.2.2). */
  readonly alsoAt?: readonly string[];
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** The CA a client trusts to reach the proxy. */
  readonly caPem: string;
  /** Turns faults on or off; off, every request passes. */
  setFaults(on: boolean): void;
  /** Drops every client connection now (a watch in progress ends as if the network failed). */
  dropConnections(): void;
  /** Requests seen per bearer token. */
  requestsByToken(): ReadonlyMap<string, number>;
  /** How often each fault was injected. */
  faultCounts(): Readonly<Record<Fault | 'pass', number>>;
  stop(): Promise<void>;
}

/** A reproducible pseudo-random sequence in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

/** The API server the proxy forwards to. */
interface Upstream {
  readonly url: URL;
  readonly caPem: string;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { ca, serving } = loopbackServingCertificate('sidecar-destruct fault proxy CA', options.alsoAt);
  const dice = new Dice(options.mix, seededRandom(options.seed));
  const upstream: Upstream = { url: new URL(options.target.url), caPem: options.target.caPem };
  const byToken = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
    const token = req.headers.authorization ?? '';
    byToken.set(token, (byToken.get(token) ?? 0) + 1);
    answer(req, res, dice, upstream, options.maxWatchMs);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropConnections = (): void => {
    for (const socket of sockets) socket.destroy();
  };

  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    setFaults: (on) => {
      dice.faults = on;
    },
    dropConnections,
    requestsByToken: () => byToken,
    faultCounts: () => ({ ...dice.counts }),
    stop: async () => {
      dropConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The seeded draw of each request's outcome, and the tally of outcomes. Every random number the proxy uses comes
 * from it, in the order requests arrive, so that a seed replays the same run.
 */
class Dice {
  faults = false;
  readonly counts: Record<Fault | 'pass', number> = {
    pass: 0,
    reset: 0,
    stall: 0,
    error500: 0,
    throttle429: 0,
    gone410: 0,
    truncate: 0,
    unauthorized401: 0,
  };

  constructor(
    private readonly mix: FaultMix,
    readonly random: () => number,
  ) {}

  /** The outcome for one request, counted; a 410 only for a watch, and always a pass while faults are off. */
  draw(isWatch: boolean): Fault | 'pass' {
    const outcome = this.pick(isWatch);
    this.counts[outcome]++;
    return outcome;
  }

  private pick(isWatch: boolean): Fault | 'pass' {
    if (!this.faults) return 'pass';
    let r = this.random();
    for (const [fault, share] of Object.entries(this.mix) as Array<[Fault, number]>) {
      if (fault === 'gone410' && !isWatch) continue;
      if (r < share) return fault;
      r -= share;
    }
    return 'pass';
  }
}

/** Answers one request with the outcome it draws: a fault made up here, or the API server's own answer. */
function answer(
  req: IncomingMessage,
  res: ServerResponse,
  dice: Dice,
  upstream: Upstream,
  maxWatchMs: number,
) {
  const isWatch = new URL(req.url ?? '/', 'https://x').searchParams.get('watch') === 'true';
  const fault = dice.draw(isWatch);
  switch (fault) {
    case 'reset':
      req.socket.destroy();
      return;
    case 'stall':
      // Never answer: the client must give up by itself.
      req.resume();
      return;
    case 'truncate':
      forward(req, res, upstream, { truncate: true });
      return;
    case 'pass':
      forward(req, res, upstream, {
        truncate: false,
        cutAfterMs: isWatch && dice.faults ? Math.floor(dice.random() * maxWatchMs) : undefined,
      });
      return;
    default:
      answerWithStatus(fault, res, dice.random);
  }
}

/** The faults the proxy answers by itself, as the API server words them. */
function answerWithStatus(
  fault: 'error500' | 'throttle429' | 'unauthorized401' | 'gone410',
  res: ServerResponse,
  random: () => number,
): void {
  switch (fault) {
    case 'error500':
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end(status(500, 'InternalError', 'etcdserver: request timed out'));
      return;
    case 'throttle429':
      res
        .writeHead(429, {
          'content-type': 'application/json',
          'retry-after': String(1 + Math.floor(random() * 5)),
        })
        .end(status(429, 'TooManyRequests', 'the server has received too many requests'));
      return;
    case 'unauthorized401':
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(status(401, 'Unauthorized', 'Unauthorized'));
      return;
    case 'gone410':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: JSON.parse(status(410, 'Expired', 'too old resource version')) })}\n`,
      );
      return;
  }
}

/** How a passing request's answer is spoilt: cut after a while (a watch), or truncated in its first chunk. */
type Spoil =
  | { readonly truncate: true }
  | { readonly truncate: false; readonly cutAfterMs: number | undefined };

/** Sends the request on to the API server and its answer back, spoilt as asked. */
function forward(req: IncomingMessage, res: ServerResponse, upstream: Upstream, spoil: Spoil): void {
  const outgoing = request(
    {
      host: upstream.url.hostname,
      port: upstream.url.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: upstream.url.host },
      ca: upstream.caPem,
      agent: false,
    },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      // As the API server does: a watch's headers go out at once, before any event.
      res.flushHeaders();
      if (spoil.truncate) truncateFirstChunk(up, res);
      else relay(up, res, spoil.cutAfterMs);
    },
  );
  // The API server is down or the connection dropped: the client sees its connection reset.
  outgoing.on('error', () => res.socket?.destroy());
  res.on('close', () => outgoing.destroy());
  req.pipe(outgoing);
}

/** Half of the first chunk, then the connection goes. */
function truncateFirstChunk(up: IncomingMessage, res: ServerResponse): void {
  up.once('data', (chunk: Buffer) => {
    res.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))));
    up.destroy();
    res.socket?.destroy();
  });
}

/** The whole answer, streamed; the client's connection goes when the API server's does, or at `cutAfterMs`. */
function relay(up: IncomingMessage, res: ServerResponse, cutAfterMs: number | undefined): void {
  up.pipe(res);
  // The API server went away mid-stream (it was stopped): the client's connection goes too, as it would.
  up.on('error', () => res.socket?.destroy());
  up.on('close', () => {
    if (!up.complete) res.socket?.destroy();
  });
  if (cutAfterMs !== undefined) {
    const timer = setTimeout(() => {
      up.destroy();
      res.socket?.destroy();
    }, cutAfterMs);
    up.once('close', () => clearTimeout(timer));
  }
}
