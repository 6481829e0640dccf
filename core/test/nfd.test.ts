import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { nfdOutage } from '../src/nfd.js';
import type { Rule } from '../src/rule.js';

const node = (labels: Record<string, string>): V1Node => ({ metadata: { name: 'pi', labels } });
const on = (key: string): Rule => ({ source: 'pod', nodeSelector: { [key]: 'true' } });

describe('the NFD outage signature', () => {
  it.each([
    ['a feature label', 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present'],
    ['a profile label', 'profile.node.kubernetes.io/radio'],
    ['a vendor sub-namespace', 'vendor.feature.node.kubernetes.io/zigbee'],
  ])('is seen for %s when the node carries no NFD label at all', (_what, key) => {
    expect(nfdOutage(on(key), node({ 'kubernetes.io/arch': 'arm64' }))).toBe(true);
  });

  it.each([
    ['another NFD label', { 'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'true' }],
    ['an NFD label of a sub-namespace', { 'intel.feature.node.kubernetes.io/sgx': 'true' }],
  ])('is not seen while the node keeps %s (the device alone went)', (_what, labels) => {
    expect(nfdOutage(on('feature.node.kubernetes.io/usb-ff_10c4_ea60.present'), node(labels))).toBe(false);
  });

  it.each([
    ['a label outside NFD', 'zigbee'],
    ['a look-alike namespace', 'notfeature.node.kubernetes.io/x'],
  ])('does not apply to a rule on %s', (_what, key) => {
    expect(nfdOutage(on(key), node({}))).toBe(false);
  });

  it('looks into the required node affinity too', () => {
    const rule: Rule = {
      source: 'pod',
      nodeSelector: {},
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'feature.node.kubernetes.io/x', operator: 'Exists' }] },
      ],
    };
    expect(nfdOutage(rule, node({}))).toBe(true);
  });
});
