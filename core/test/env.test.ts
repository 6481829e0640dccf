import { describe, expect, it } from 'vitest';
import { ENV, parseSidecarEnv, sidecarEnv } from '../src/env.js';
import type { Rule } from '../src/rule.js';

const rule: Rule = {
  source: 'pod',
  nodeSelector: { usb: 'true' },
  nodeSelectorTerms: [{ matchExpressions: [{ key: 'arch', operator: 'In', values: ['arm64'] }] }],
};
const settings = {
  gracePeriodMs: 90_000,
  nfdOutageGracePeriodMs: 600_000,
  action: 'evict',
  dryRun: true,
} as const;

/** What the kubelet does with the env: resolve downward-API references from the pod. */
function resolve(vars: ReturnType<typeof sidecarEnv>): Record<string, string> {
  const pod: Record<string, string> = {
    'spec.nodeName': 'pi-1',
    'metadata.name': 'z2m-0',
    'metadata.namespace': 'home',
    'metadata.uid': '6f1c',
  };
  return Object.fromEntries(
    vars.map((v) => [v.name, v.value ?? pod[v.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']),
  );
}

describe('the env contract between webhook and sidecar', () => {
  it('round-trips identity, rule and settings', () => {
    expect(parseSidecarEnv(resolve(sidecarEnv(rule, settings)))).toEqual({
      ok: true,
      value: {
        identity: { nodeName: 'pi-1', podName: 'z2m-0', podNamespace: 'home', podUid: '6f1c' },
        rule,
        settings,
      },
    });
  });

  it('takes the identity from the downward API', () => {
    const byName = Object.fromEntries(
      sidecarEnv(rule, settings).map((v) => [v.name, v.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(byName[ENV.nodeName]).toBe('spec.nodeName');
    expect(byName[ENV.podUid]).toBe('metadata.uid');
  });

  it('names every missing variable', () => {
    const parsed = parseSidecarEnv({});
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toEqual(
        [ENV.nodeName, ENV.podName, ENV.podNamespace, ENV.podUid, ENV.rule].map((n) => `${n} is not set`),
      );
    }
  });

  it.each([
    [ENV.rule, '{not json', 'is not JSON'],
    [ENV.rule, '{"source":"pod","nodeSelector":{"a":1}}', 'rule.nodeSelector["a"] must be a string'],
    [ENV.rule, '{"source":"elsewhere","nodeSelector":{}}', 'rule.source'],
    [ENV.action, 'explode', '"delete" or "evict"'],
    [ENV.gracePeriod, 'later', '30s'],
    [ENV.nfdOutageGracePeriod, 'later', '30s'],
    [ENV.dryRun, '1', '"true" or "false"'],
  ])('refuses a malformed %s', (name, value, message) => {
    const env = { ...resolve(sidecarEnv(rule, settings)), [name]: value };
    const parsed = parseSidecarEnv(env);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.join('\n')).toContain(message);
  });
});
