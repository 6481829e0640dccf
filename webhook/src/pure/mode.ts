/**
 * Native sidecar or classic container? A restartable init container on a kubelet without native sidecar
 * support never completes, and the pod never starts; so `auto` decides from the oldest kubelet among the nodes
 * (as Istio's injector does), and from the API server's version when no node reports one.
 */
import type { SidecarMode } from './config.js';

/** SidecarContainers is on by default from Kubernetes 1.29 (beta) and GA in 1.33. */
export const NATIVE_SIDECAR_MINOR = 29;

/** `v1.28.3+k3s1` → [1, 28]; undefined when unreadable. */
export function parseVersion(version: string): readonly [number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const supportsNative = ([major, minor]: readonly [number, number]): boolean =>
  major > 1 || (major === 1 && minor >= NATIVE_SIDECAR_MINOR);

export interface ClusterVersions {
  readonly server?: string;
  /** `status.nodeInfo.kubeletVersion` of every node; nodes that report none are left out. */
  readonly kubelets: readonly string[];
}

/** The mode for `auto`, or undefined when nothing is known yet (use the configured fallback). */
export function autoMode(versions: ClusterVersions): 'native' | 'container' | undefined {
  const known = (versions.kubelets.length > 0 ? versions.kubelets : versions.server ? [versions.server] : [])
    .map(parseVersion)
    .filter((v): v is readonly [number, number] => v !== undefined);
  if (known.length === 0) return undefined;
  return known.every(supportsNative) ? 'native' : 'container';
}

export function resolveMode(
  configured: SidecarMode,
  fallback: 'native' | 'container',
  versions: ClusterVersions | undefined,
): 'native' | 'container' {
  if (configured !== 'auto') return configured;
  return (versions && autoMode(versions)) ?? fallback;
}
