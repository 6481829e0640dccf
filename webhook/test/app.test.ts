import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ok } from '@sidecar-destruct/core';
import { seededRandom } from '@sidecar-destruct/testkit';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { REASONS } from '../src/pure/should-inject.js';
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

  // A thousand cases is the point, not their speed: no wall-clock bound on a loaded machine.
  it('survives 1,000 randomly damaged reviews: every answer is a clean review or a 4xx, never an internal error', {
    timeout: 300_000,
  }, async () => {
    const base = JSON.stringify(reviewOf(POD));
    const random = seededRandom(42);
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
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1_000; i++) {
      const payload = i % 2 === 0 ? damage(base) : mutateJson();
      const res = await post(payload);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      expect(res.statusCode < 500, `status ${res.statusCode} for ${payload}: ${res.body}`).toBe(true);
      if (res.statusCode === 200) {
        const review = res.json();
        expect(review.kind).toBe('AdmissionReview');
        expect(
          review.response.status?.code ?? 200,
          `errored review for ${payload}: ${res.body}`,
        ).toBeLessThan(500);
      } else {
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
      }
    }
    expect((await fastify.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // Both kinds of answer occurred: the damage reached the decoder and, intact enough, the handler.
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });

  // A thousand cases is the point, not their speed: no wall-clock bound on a loaded machine.
  it('admits 1,000 random valid pods, each with a clean review and a patch that applies', {
    timeout: 300_000,
  }, async () => {
    const random = seededRandom(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const key = () =>
      pick(['usb', 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present', 'kubernetes.io/arch', 'zone']);
    const requirement = () => {
      const operator = pick(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] as const);
      const values =
        operator === 'Exists' || operator === 'DoesNotExist'
          ? undefined
          : operator === 'Gt' || operator === 'Lt'
            ? [String(Math.floor(random() * 10))]
            : [pick(['a', 'b', 'true'])];
      return { key: key(), operator, ...(values ? { values } : {}) };
    };
    const annotations = (): Record<string, string> => {
      const out: Record<string, string> = {};
      if (random() < 0.3) out['sidecar-destruct.io/grace-period'] = pick(['0s', '30s', '2m']);
      if (random() < 0.3) out['sidecar-destruct.io/action'] = pick(['delete', 'evict']);
      if (random() < 0.2) out['sidecar-destruct.io/dry-run'] = pick(['true', 'false']);
      if (random() < 0.2)
        out['sidecar-destruct.io/selector'] = pick(['usb=true', 'zone in (a,b),!maintenance']);
      return out;
    };
    for (let i = 0; i < 1_000; i++) {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p-${i}`, namespace: pick(['home', 'lab']), annotations: annotations() },
        spec: {
          ...(random() < 0.7 ? { nodeSelector: { [key()]: pick(['true', 'a']) } } : {}),
          ...(random() < 0.5
            ? {
                affinity: {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
                        matchExpressions: Array.from({ length: 1 + Math.floor(random() * 3) }, requirement),
                      })),
                    },
                  },
                },
              }
            : {}),
          ...(random() < 0.3 ? { serviceAccountName: pick(['default', 'radio']) } : {}),
          containers: Array.from({ length: 1 + Math.floor(random() * 3) }, (_, c) => ({
            name: `c${c}`,
            image: 'x',
          })),
          ...(random() < 0.3 ? { initContainers: [{ name: 'init', image: 'x' }] } : {}),
        },
      };
      const res = await post(reviewOf(pod, { uid: `uid-${i}` }));
      expect(res.statusCode, res.body).toBe(200);
      const { response } = res.json();
      expect(response.uid).toBe(`uid-${i}`);
      expect(
        response.status?.code ?? 200,
        `errored review for ${JSON.stringify(pod)}: ${res.body}`,
      ).toBeLessThan(500);
      if (response.patch) {
        const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
        expect(() => fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false)).not.toThrow();
      }
    }
  });

  // A thousand cases is the point, not their speed: no wall-clock bound on a loaded machine.
  it('holds no memory per review: 1,000 large reviews leave the heap where it was', {
    timeout: 300_000,
  }, async () => {
    const collect = gc();
    // About 40 kB each: keeping every review (or its pod, or its patch) would retain over 40 MB.
    const large = (i: number) =>
      reviewOf(
        {
          ...POD,
          metadata: { ...POD.metadata, name: `big-${i}`, annotations: { note: `${i}`.padEnd(40_000, 'x') } },
        },
        { uid: `big-${i}` },
      );
    for (let i = 0; i < 50; i++) await post(large(-i));
    collect();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000; i++) expect((await post(large(i))).statusCode).toBe(200);
    collect();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(15 * 1_048_576);
  });
});

/** A function that runs a full garbage collection, without starting the test runner with --expose-gc. */
function gc(): () => void {
  setFlagsFromString('--expose-gc');
  const run = runInNewContext('gc') as () => void;
  return () => {
    run();
    run();
  };
}

describe('the log line of a review', () => {
  it('is the only line a review writes, and says the reason in words, from the same table as the metrics label', async () => {
    const lines: Array<{ msg: string; reason: string }> = [];
    const logged = buildApp({
      config: testConfig(),
      mode: () => 'native',
      ensureAccount: async () => ok(undefined),
      logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    });
    await logged.fastify.inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(reviewOf(POD)),
    });
    await logged.fastify.close();
    // One line per review, and no request logging beside it: Fastify's would carry the request.
    expect(lines.map((l) => [l.msg, l.reason])).toEqual([[`admission: ${REASONS.inject}`, 'inject']]);
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
