/**
 * The webhook's log is JSON lines. A process warning (a deprecated Fastify option, say) is a line of plain text on
 * stderr that a log pipeline cannot parse, so building the app must emit none. In a file of its own: Node emits
 * each warning once per process, so a test file that had built an app before would hide it.
 */
import { ok } from '@sidecar-destruct/core';
import { expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { testConfig } from './helpers.js';

it('builds and serves without a process warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const { fastify } = buildApp({
      config: testConfig([]),
      mode: () => 'native',
      ensureAccount: async () => ok(undefined),
    });
    const res = await fastify.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    await fastify.close();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  expect(warnings).toEqual([]);
});
