/**
 * The sidecar process exits within 1 s of SIGTERM whatever it is doing: the kubelet sends SIGTERM when the pod is
 * deleted (often by the sidecar itself) and SIGKILLs at the end of the grace period, which would hold up every
 * rescheduling. Each case starts the shipped bundle against a local HTTPS server scripted to hold the sidecar in
 * one state, sends SIGTERM once that state is reached, and times the exit. (A lifecycle test of the process;
 * everything about the Kubernetes API itself is tested against a real kube-apiserver in test/e2e.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV } from '@sidecar-destruct/core';
import {
  loopbackServingCertificate,
  SIDECAR_BUNDLE,
  SIDECAR_RUNTIME,
  sidecarRuntime,
  USB_LABEL,
} from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The node keeps its other NFD labels: the stick was unplugged, NFD did not restart. */
const NFD = { 'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'true' };
const { ca, serving } = loopbackServingCertificate();
const node = (labels: Record<string, string>) =>
  JSON.stringify({ kind: 'Node', metadata: { name: 'pi', resourceVersion: '7', labels } });

/** How the scripted API server answers each kind of request; `hold` never answers. */
interface Script {
  readonly get: 'plugged' | 'unplugged' | 'fail' | 'hold';
  readonly watch: 'stream' | 'hold';
  readonly delete: 'hold';
}

let dir: string;
const servers: Server[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-sigterm-'));
  await writeFile(join(dir, 'ca.crt'), ca.certPem);
  await writeFile(join(dir, 'token'), 'a-token');
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const s of servers) s.closeAllConnections();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Starts a scripted server and the sidecar against it; resolves once `reached` has been seen by the server and,
 * when given, the sidecar has logged `logged` (the state it is in: a backoff, a grace period, a running watch).
 */
async function sidecarIn(script: Script, grace: string, reached: RequestKind, logged?: string) {
  const api = await scriptedServer(script, reached);
  const child = spawnSidecar(api.port, grace);
  const log = follow(child, logged);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const state = Promise.all([api.reached, log.inState]).then(() => true);
  const inTime = await Promise.race([state, new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
  if (!inTime)
    throw new Error(
      `never reached ${reached} / ${logged}: saw ${api.seen.join(',')}; logs: ${log.logs.join('')}`,
    );
  return { child, exited, seen: api.seen, logs: log.logs };
}

type RequestKind = 'get' | 'watch' | 'delete' | 'event';

function kindOf(req: IncomingMessage): RequestKind {
  if (req.method === 'DELETE') return 'delete';
  if (new URL(req.url ?? '/', 'https://x').searchParams.get('watch') === 'true') return 'watch';
  return req.method === 'POST' ? 'event' : 'get';
}

/**
 * An API server that answers as `script` says, holding the requests it never answers; `reached` resolves at the
 * first request of that kind, and `seen` lists every request's kind in order.
 */
async function scriptedServer(script: Script, reached: RequestKind) {
  const held: ServerResponse[] = [];
  const seen: RequestKind[] = [];
  let notify: () => void = () => {};
  const reachedState = new Promise<void>((resolve) => {
    notify = resolve;
  });
  const server = createServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
    const kind = kindOf(req);
    seen.push(kind);
    req.resume();
    answer(script, kind, res, held);
    if (kind === reached) notify();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, seen, reached: reachedState };
}

function answer(script: Script, kind: RequestKind, res: ServerResponse, held: ServerResponse[]): void {
  if (kind === 'event') res.writeHead(201).end('{}');
  else if (kind === 'get' && script.get === 'fail')
    res.writeHead(500).end('{"kind":"Status","message":"etcd"}');
  else if (kind === 'get' && script.get !== 'hold')
    res.writeHead(200).end(node(script.get === 'plugged' ? { [USB_LABEL]: 'true', ...NFD } : NFD));
  else if (kind === 'watch' && script.watch === 'stream') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '8' } } })}\n`);
    held.push(res);
  } else held.push(res);
}

/** The shipped bundle as the kubelet would start it for pod home/z2m on node pi, pinned to the stick. */
function spawnSidecar(port: number, grace: string): ChildProcess {
  const rule = JSON.stringify({ source: 'pod', nodeSelector: { [USB_LABEL]: 'true' } });
  const child = spawn(
    sidecarRuntime(),
    [...SIDECAR_RUNTIME.flags, SIDECAR_BUNDLE, '--service-account-dir', dir],
    {
      env: {
        PATH: process.env.PATH,
        ...SIDECAR_RUNTIME.env,
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: String(port),
        [ENV.nodeName]: 'pi',
        [ENV.podName]: 'z2m',
        [ENV.podNamespace]: 'home',
        [ENV.podUid]: 'uid-1',
        [ENV.rule]: rule,
        [ENV.gracePeriod]: grace,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  return child;
}

/** The sidecar's stdout as it comes; `inState` resolves once it contains `logged` (at once without one). */
function follow(child: ChildProcess, logged: string | undefined) {
  const logs: string[] = [];
  let onLog: () => void = () => {};
  child.stdout?.on('data', (d: Buffer) => {
    logs.push(d.toString());
    onLog();
  });
  const inState = new Promise<void>((resolve) => {
    onLog = () => {
      if (logged === undefined || logs.join('').includes(logged)) resolve();
    };
    onLog();
  });
  return { logs, inState };
}

async function timeToExit(s: Awaited<ReturnType<typeof sidecarIn>>): Promise<number> {
  const started = performance.now();
  s.child.kill('SIGTERM');
  const code = await s.exited;
  expect(code, s.logs.join('')).toBe(0);
  return performance.now() - started;
}

describe('the sidecar on SIGTERM', () => {
  it.each([
    [
      'awaiting the first read of the node',
      { get: 'hold', watch: 'hold', delete: 'hold' },
      '0s',
      'get',
      undefined,
    ],
    [
      'awaiting the headers of its watch',
      { get: 'plugged', watch: 'hold', delete: 'hold' },
      '0s',
      'watch',
      undefined,
    ],
    ['watching', { get: 'plugged', watch: 'stream', delete: 'hold' }, '0s', 'watch', 'watching the node'],
    [
      'backing off after a refused read',
      { get: 'fail', watch: 'hold', delete: 'hold' },
      '0s',
      'get',
      'retryInMs',
    ],
    [
      'waiting out a grace period',
      { get: 'unplugged', watch: 'stream', delete: 'hold' },
      '10m',
      'watch',
      '"decision":"mismatch"',
    ],
    [
      'with its delete in flight',
      { get: 'unplugged', watch: 'stream', delete: 'hold' },
      '0s',
      'delete',
      undefined,
    ],
  ] as const)(
    'exits 0 within 1 s while %s',
    async (_state, script, grace, reached, logged) => {
      const sidecar = await sidecarIn(script, grace, reached, logged);
      expect(await timeToExit(sidecar)).toBeLessThan(1_000);
    },
    15_000,
  );
});
