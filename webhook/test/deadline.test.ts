/**
 * A review is answered before the API server gives up on the webhook (timeoutSeconds: 5), whatever the API server
 * the webhook itself calls is doing: the account's requests end at the deadline, and the answer goes out with a
 * warning instead of waiting.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { loopbackServingCertificate } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountEnsurer } from '../src/accounts.js';
import { ADMISSION_DEADLINE_MS } from '../src/admit.js';
import { buildApp } from '../src/app.js';
import { reviewOf, testConfig } from './helpers.js';

/** An API server that takes every request and never answers it; it records the requests and their ends. */
let stalled: Server;
const requests: string[] = [];
const closed: string[] = [];
let kubeConfig: KubeConfig;

beforeAll(async () => {
  const { ca, serving } = loopbackServingCertificate();
  stalled = createServer({ key: serving.keyPem, cert: serving.certPem }, (req) => {
    requests.push(`${req.method} ${req.url}`);
    (req.socket as Socket).once('close', () => closed.push(`${req.method} ${req.url}`));
  });
  stalled.listen(0, '127.0.0.1');
  await once(stalled, 'listening');
  const address = stalled.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(ca.certPem).toString('base64') },
    ],
    users: [{ name: 'u', token: 'stalled' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
afterAll(() => {
  stalled.closeAllConnections();
  stalled.close();
});

describe('the admission deadline', () => {
  it('is shorter than the API server waits for the webhook (deploy/base/mutatingwebhook.yaml)', async () => {
    const { readFile } = await import('node:fs/promises');
    const manifest = await readFile(
      new URL('../../deploy/base/mutatingwebhook.yaml', import.meta.url),
      'utf8',
    );
    const timeouts = [...manifest.matchAll(/timeoutSeconds: (\d+)/g)].map((m) => Number(m[1]) * 1_000);
    expect(timeouts.length).toBeGreaterThan(0);
    for (const t of timeouts) expect(ADMISSION_DEADLINE_MS).toBeLessThan(t);
  });

  it("ends the account's requests to an API server that does not answer, and says why", async () => {
    const ensure = accountEnsurer(kubeConfig, { ownNamespace: 'sidecar-destruct-system' });
    const result = await ensure('home', 'sidecar-destruct', true, AbortSignal.timeout(200));
    expect(result).toEqual({
      ok: false,
      error: expect.stringContaining('no answer from the API server before the admission deadline'),
    });
    expect(requests).toContain('GET /api/v1/namespaces/home/serviceaccounts/sidecar-destruct');
    // The request was not left hanging: its connection is closed.
    await expect.poll(() => closed).toContain('GET /api/v1/namespaces/home/serviceaccounts/sidecar-destruct');
  });

  it('answers the review with the sidecar and a warning when the account cannot be checked in time', async () => {
    const { fastify } = buildApp({
      config: testConfig(),
      mode: () => 'native',
      // An ensurer that ignores its deadline: the answer must not wait for it.
      ensureAccount: () => new Promise(() => {}),
      admissionDeadlineMs: 100,
    });
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'z2m', namespace: 'home' },
      spec: { nodeSelector: { usb: 'true' }, containers: [{ name: 'app', image: 'x' }] },
    };
    const res = await fastify.inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(reviewOf(pod)),
    });
    await fastify.close();
    const response = res.json().response;
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    expect(response.warnings.join('\n')).toContain('the admission deadline passed');
  });
});
