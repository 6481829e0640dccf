import { ok } from '@sidecar-destruct/sidecar/core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { reviewOf, testConfig } from './helpers.js';

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'z2m', namespace: 'home' },
  spec: { nodeSelector: { usb: 'true' }, containers: [{ name: 'app', image: 'x' }] },
};

const { fastify, metrics } = buildApp({
  config: testConfig(['--body-limit', '65536']),
  mode: () => 'native',
  ensureAccount: async () => ok(undefined),
});
afterAll(() => fastify.close());

const post = (payload: unknown, contentType = 'application/json') =>
  fastify.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

describe('POST /mutate', () => {
  it('answers an AdmissionReview of the same version, echoing the uid, with a base64 JSON patch', async () => {
    const res = await post(reviewOf(POD, { uid: 'abc-123' }));
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'abc-123', allowed: true, patchType: 'JSONPatch' },
    });
    expect(JSON.parse(Buffer.from(body.response.patch, 'base64').toString())).toEqual(
      expect.arrayContaining([expect.objectContaining({ op: 'add' })]),
    );
  });

  it.each([
    ['not JSON', '{"kind":', 'application/json', 400],
    ['a JSON array', '[]', 'application/json', 400],
    [
      'the wrong apiVersion',
      JSON.stringify({ ...reviewOf(POD), apiVersion: 'admission.k8s.io/v1beta1' }),
      'application/json',
      400,
    ],
    ['the wrong kind', JSON.stringify({ ...reviewOf(POD), kind: 'Pod' }), 'application/json', 400],
    [
      'no request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      'application/json',
      400,
    ],
    [
      'no uid',
      JSON.stringify({ ...reviewOf(POD), request: { ...reviewOf(POD).request, uid: '' } }),
      'application/json',
      400,
    ],
    [
      'no object on CREATE',
      JSON.stringify({ ...reviewOf(POD), request: { ...reviewOf(POD).request, object: undefined } }),
      'application/json',
      400,
    ],
    ['another content type', 'hello', 'text/plain', 415],
    [
      'a body over the limit',
      JSON.stringify({ ...reviewOf(POD), pad: 'x'.repeat(70_000) }),
      'application/json',
      400,
    ],
  ])('refuses %s with a clear 4xx and no stack trace', async (_name, payload, contentType, status) => {
    const res = await post(payload, contentType);
    expect(res.statusCode).toBe(status);
    expect(res.json().error ?? res.json().message).toEqual(expect.any(String));
    expect(res.body).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it('names the limit when the body is too large', async () => {
    const res = await post(JSON.stringify({ ...reviewOf(POD), pad: 'x'.repeat(70_000) }));
    expect(res.json().error).toContain('65536 bytes');
  });

  it('survives 1,000 randomly damaged reviews: every answer is a 200 review or a 4xx', async () => {
    const base = JSON.stringify(reviewOf(POD));
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const damage = (text: string): string => {
      const chars = [...text];
      const edits = 1 + Math.floor(random() * 8);
      for (let i = 0; i < edits; i++) {
        const at = Math.floor(random() * chars.length);
        const kind = random();
        if (kind < 0.4) chars[at] = String.fromCharCode(32 + Math.floor(random() * 95));
        else if (kind < 0.7) chars.splice(at, 1 + Math.floor(random() * 20));
        else chars.splice(at, 0, ...'{"x":[null,1,"\\u0000"]}'.slice(0, 1 + Math.floor(random() * 10)));
      }
      return chars.join('');
    };
    /** Structural damage: valid JSON with fields of the wrong type or missing. */
    const mutateJson = (): string => {
      const review = reviewOf(POD) as Record<string, unknown> & { request: Record<string, unknown> };
      const paths = ['uid', 'kind', 'resource', 'operation', 'object', 'namespace', 'dryRun'];
      const key = paths[Math.floor(random() * paths.length)] ?? 'uid';
      const values = [
        null,
        1,
        'x',
        [],
        {},
        true,
        { metadata: 5 },
        { kind: 'Pod', spec: { nodeSelector: [1] } },
      ];
      review.request[key] = values[Math.floor(random() * values.length)];
      return JSON.stringify(review);
    };
    const before = process.memoryUsage().heapUsed;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1_000; i++) {
      const res = await post(i % 2 === 0 ? damage(base) : mutateJson());
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      expect(
        res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500),
        `status ${res.statusCode}: ${res.body}`,
      ).toBe(true);
      if (res.statusCode === 200) expect(res.json().kind).toBe('AdmissionReview');
    }
    expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // A leak of the bodies would be tens of MB over 1,000 requests; allow for GC timing.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(50 * 1_048_576);
    expect([...statuses.keys()].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
  });
});

describe('probes and metrics', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await fastify.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await fastify.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('counts admissions by outcome, latency and errors in Prometheus text', async () => {
    await post(reviewOf(POD));
    const res = await fastify.inject({ method: 'GET', url: '/metrics' });
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(/sidecar_destruct_admissions_total\{outcome="injected",reason="inject"\} \d+/);
    expect(res.body).toContain('sidecar_destruct_admission_duration_seconds_bucket');
    expect(res.body).toContain('sidecar_destruct_injection_errors_total');
    expect(await metrics.registry.getSingleMetricAsString('sidecar_destruct_admissions_total')).toContain(
      'malformed',
    );
  });
});
