import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { ok } from '@sidecar-destruct/core';
import { loopbackServingCertificate, postReview } from '@sidecar-destruct/testkit';
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
  // Every request the server has begun (its headers parsed): from then on a review is in flight.
  const begun: string[] = [];
  app.fastify.addHook('onRequest', async (request) => {
    begun.push(request.url);
  });
  await app.fastify.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.fastify.server.address() as AddressInfo).port, begun };
}

const review = async (port: number, agent: Agent) =>
  (await postReview({ port, body, ca: ca.certPem, agent })).status;

/** A keep-alive connection with a review whose body is only half sent: a review in flight. */
async function halfSent(
  port: number,
  begun: readonly string[],
): Promise<{ socket: TLSSocket; finish: () => Promise<string> }> {
  const before = begun.length;
  const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem });
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  const half = Math.floor(body.length / 2);
  socket.write(
    `POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body.slice(0, half)}`,
  );
  let answer = '';
  socket.on('data', (d) => (answer += d.toString()));
  socket.on('error', () => {});
  await expect.poll(() => begun.length).toBeGreaterThan(before);
  return {
    socket,
    finish: async () => {
      socket.write(body.slice(half));
      await expect.poll(() => answer, { timeout: 10_000 }).toContain('"response"');
      return answer.split('\r\n')[0] ?? '';
    },
  };
}

describe('stopping the webhook', () => {
  // "drained" rather than "forced" is the point: a connection left to linger (Fastify keeps them 72 s) would
  // hold the close until its deadline, and the answer would be "forced".
  it('finishes a review in flight and closes its keep-alive connections, before the deadline', {
    timeout: 30_000,
  }, async () => {
    const { app, port, begun } = await listening();
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    // A burst over kept-alive connections, as the API server sends it.
    expect(await Promise.all(Array.from({ length: 40 }, () => review(port, agent)))).toEqual(
      Array(40).fill(200),
    );
    const inFlight = await halfSent(port, begun);

    const closing = closeWithin(app.fastify, 20_000);
    await expect.poll(() => app.fastify.server.listening).toBe(false);
    expect(await inFlight.finish()).toBe('HTTP/1.1 200 OK');
    expect(await closing).toBe('drained');
    agent.destroy();
  });

  it('closes by force what is still open at the deadline', async () => {
    const { app, port, begun } = await listening();
    const stuck = await halfSent(port, begun);
    const closedByServer = new Promise((resolve) => stuck.socket.once('close', resolve));
    expect(await closeWithin(app.fastify, 500)).toBe('forced');
    await closedByServer;
  });
});
