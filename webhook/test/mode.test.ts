import { describe, expect, it } from 'vitest';
import { autoMode, parseVersion, resolveMode } from '../src/pure/mode.js';

describe('sidecar mode', () => {
  it.each([
    ['v1.37.2', [1, 37]],
    ['v1.28.3+k3s1', [1, 28]],
    ['1.29.0-eks-abc', [1, 29]],
    ['garbage', undefined],
  ])('reads %s', (text, version) => {
    expect(parseVersion(text)).toEqual(version);
  });

  it('is native when every kubelet supports native sidecars (1.29+)', () => {
    expect(autoMode({ server: 'v1.37.2', kubelets: ['v1.33.1', 'v1.29.0'] })).toBe('native');
  });

  it('is a classic container when one kubelet is older, even on a new API server', () => {
    expect(autoMode({ server: 'v1.37.2', kubelets: ['v1.37.2', 'v1.28.9+k3s1'] })).toBe('container');
  });

  it('falls back to the API server version when no node reports a kubelet', () => {
    expect(autoMode({ server: 'v1.30.0', kubelets: [] })).toBe('native');
    expect(autoMode({ server: 'v1.27.0', kubelets: [] })).toBe('container');
  });

  it('uses the configured fallback until the cluster has answered, and forced modes always', () => {
    expect(resolveMode('auto', 'container', undefined)).toBe('container');
    expect(resolveMode('auto', 'native', { kubelets: [] })).toBe('native');
    expect(resolveMode('native', 'container', { server: 'v1.20.0', kubelets: ['v1.20.0'] })).toBe('native');
    expect(resolveMode('container', 'native', { server: 'v1.37.0', kubelets: [] })).toBe('container');
  });
});
