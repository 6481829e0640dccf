import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { loopbackServingCertificate, postReview } from '@sidecar-destruct/cluster';
import { ok } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { closeWithin } from '../src/shutdown.js';
import { reviewOf, testConfig } from './helpers.js';

const { ca, serving } = loopbackServingCertificate();
const body = JSON.stringify(
  reviewOf({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'home' },
    spec: {
      nodeSelector: { a: 'b' },
      containers: [{ name: 'app', image: 'x', env: Array(200).fill({ name: 'N', value: 'v'.repeat(100) }) }],
    },
  }),
);

async function listening() {
  const app = buildApp({
    config: testConfig(),
    mode: () => 'native',
    ensureAccount: async () => ok(undefined),
    https: { key: Buffer.from(serving.keyPem), cert: Buffer.from(serving.certPem) },
  });
  await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.fastify.server.address() as AddressInfo).port };
}

const review = async (port: number, agent: Agent) =>
  (await postReview({ port, body, ca: ca.certPem, agent })).status;

/** A keep-alive connection with a review whose body is only half sent: a review in flight. */
async function halfSent(port: number): Promise<{ socket: TLSSocket; finish: () => Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body.slice(0, half)}`,
  );
  let answer = '';
  socket.on('data', (d) => (answer += d.toString()));
  socket.on('error', () => {});
  // Let the server parse the headers: from then on the review is in flight.
  await new Promise((r) => setTimeout(r, 200));
  return {
    socket,
    finish: async () => {
      socket.write(body.slice(half));
      while (!answer.includes('"response"')) await new Promise((r) => setTimeout(r, 10));
      return answer.split('\r\n')[0] ?? '';
    },
  };
}

describe('stopping the webhook', () => {
  it('finishes a review in flight and closes its keep-alive connection at once, well within the grace period', async () => {
    const { app, port } = await listening();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    // A burst over kept-alive connections, as the API server sends it.
    expect(await Promise.all(Array.from({ length: 40 }, () => review(port, agent)))).toEqual(
      Array(40).fill(200),
    );
    const inFlight = await halfSent(port);

    const started = performance.now();
    const closing = closeWithin(app.fastify, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await inFlight.finish()).toBe('HTTP/1.1 200 OK');
    expect(await closing).toBe('drained');
    // Without sweeping, the connection that was busy lingers for Fastify's 72 s keep-alive timeout.
    expect(performance.now() - started).toBeLessThan(2_000);
    agent.destroy();
  });

  it('closes by force what is still open at the deadline', async () => {
    const { app, port } = await listening();
    const stuck = await halfSent(port);
    const closedByServer = new Promise((resolve) => stuck.socket.once('close', resolve));
    const started = performance.now();
    expect(await closeWithin(app.fastify, 500)).toBe('forced');
    expect(performance.now() - started).toBeLessThan(1_500);
    await closedByServer;
  });
});
