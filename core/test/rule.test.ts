import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { match } from '../src/match.js';
import { describeRule, isEmptyRule, ruleOf } from '../src/rule.js';

const pod = (spec: V1Pod['spec'], annotations?: Record<string, string>): V1Pod => ({
  kind: 'Pod',
  metadata: { name: 'p', ...(annotations ? { annotations } : {}) },
  spec: { containers: [], ...spec },
});

describe('the rule of a pod', () => {
  it('is its nodeSelector AND its required node affinity', () => {
    const terms = [{ matchExpressions: [{ key: 'arch', operator: 'In', values: ['arm64'] }] }];
    const rule = ruleOf(
      pod({
        containers: [],
        nodeSelector: { usb: 'true' },
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
        },
      }),
    );
    expect(rule).toEqual({
      ok: true,
      value: { source: 'pod', nodeSelector: { usb: 'true' }, nodeSelectorTerms: terms },
    });
  });

  it('ignores preferred node affinity', () => {
    const rule = ruleOf(
      pod({
        containers: [],
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 1, preference: { matchExpressions: [{ key: 'a', operator: 'Exists' }] } },
            ],
          },
        },
      }),
    );
    expect(rule.ok && isEmptyRule(rule.value)).toBe(true);
  });

  it('is empty for a pod without constraints, and says there is nothing to enforce', () => {
    const rule = ruleOf(pod({ containers: [] }));
    expect(rule.ok && isEmptyRule(rule.value)).toBe(true);
    expect(rule.ok && describeRule(rule.value).join()).toContain('nothing to enforce');
  });

  it('keeps an explicit empty list of terms, which matches no node', () => {
    const rule = ruleOf(
      pod({
        containers: [],
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
        },
      }),
    );
    expect(rule.ok && isEmptyRule(rule.value)).toBe(false);
    expect(rule.ok && match(rule.value, { metadata: { name: 'n' } }).matches).toBe(false);
  });

  it('drops nulls from terms, as Kubernetes JSON may carry them', () => {
    const required = JSON.parse(
      '{"nodeSelectorTerms":[{"matchExpressions":[{"key":"a","operator":"Exists","values":null}],"matchFields":null}]}',
    );
    const rule = ruleOf(
      pod({
        containers: [],
        affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: required } },
      }),
    );
    expect(rule.ok && rule.value.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'a', operator: 'Exists' }] },
    ]);
  });

  it('is the selector annotation instead, when set', () => {
    const rule = ruleOf(
      pod(
        { containers: [], nodeSelector: { ignored: 'yes' } },
        { 'sidecar-destruct.io/selector': 'usb,arch in (arm64)' },
      ),
    );
    expect(rule.ok && rule.value).toMatchObject({
      source: 'annotation',
      nodeSelector: {},
      selector: 'usb,arch in (arm64)',
    });
    expect(rule.ok && match(rule.value, { metadata: { labels: { usb: '', arch: 'arm64' } } }).matches).toBe(
      true,
    );
    expect(rule.ok && match(rule.value, { metadata: { labels: { ignored: 'yes' } } }).matches).toBe(false);
  });

  it('refuses an unparseable selector annotation, naming it and the accepted form', () => {
    const rule = ruleOf(pod({ containers: [] }, { 'sidecar-destruct.io/selector': 'a in b' }));
    expect(rule.ok).toBe(false);
    if (!rule.ok) {
      expect(rule.error).toContain('sidecar-destruct.io/selector');
      expect(rule.error).toContain('key=value,key2 in (a,b),!key3');
    }
  });
});
