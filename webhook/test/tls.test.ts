import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import type { KeyPair } from '@sidecar-destruct/certs';
import { ok } from '@sidecar-destruct/core';
import { loopbackServingCertificate, postReview } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { followCertificate, readPair } from '../src/tls.js';
import { reviewOf, testConfig } from './helpers.js';

const { ca, serving, reissue } = loopbackServingCertificate();

let dir: string;
let port: number;
let stop: () => void;
let server: ReturnType<typeof buildApp>;

/** Writes a pair the way a Secret volume updates: new files, then an atomic rename. */
async function install(pair: KeyPair): Promise<void> {
  await writeFile(join(dir, 'tls.crt.new'), pair.certPem);
  await writeFile(join(dir, 'tls.key.new'), pair.keyPem);
  await rename(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  await rename(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

/** One new connection: the serial of the certificate it was served, and the review's HTTP status. */
async function call(): Promise<{ serial: string; status: number }> {
  const body = JSON.stringify(
    reviewOf({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'home' },
      spec: { nodeSelector: { a: 'b' }, containers: [] },
    }),
  );
  const { serial, status } = await postReview({ port, body, ca: ca.certPem });
  return { serial, status };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-tls-'));
  await install(serving);
  const pair = await readPair(join(dir, 'tls.crt'), join(dir, 'tls.key'));
  server = buildApp({
    config: testConfig(),
    mode: () => 'native',
    ensureAccount: async () => ok(undefined),
    https: pair,
  });
  await server.fastify.listen({ host: '127.0.0.1', port: 0 });
  port = (server.fastify.server.address() as AddressInfo).port;
  const quiet = { info: () => {}, warn: () => {} };
  stop = followCertificate(
    join(dir, 'tls.crt'),
    join(dir, 'tls.key'),
    pair,
    (next) => {
      (server.fastify.server as unknown as TlsServer).setSecureContext({ cert: next.cert, key: next.key });
    },
    quiet,
    100,
  );
});

afterAll(async () => {
  stop();
  await server.fastify.close();
  await rm(dir, { recursive: true, force: true });
});

describe('serving certificate rotation', () => {
  it('serves the new certificate to new connections, with no request failing on the way', async () => {
    const before = await call();
    expect(before.status).toBe(200);

    const next = reissue();
    // Requests one after another until the new certificate has been served; it is installed while they run.
    const results: Array<{ serial: string; status: number }> = [];
    const load = (async () => {
      while (!results.some((r) => r.serial !== before.serial)) results.push(await call());
    })();
    await expect.poll(() => results.length).toBeGreaterThan(2);
    await install(next);
    await load;

    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = await call();
    expect(after.serial).not.toBe(before.serial);
    // Both certificates were served during the run: the swap happened under load.
    expect(new Set(results.map((r) => r.serial)).size).toBe(2);
  });
});
