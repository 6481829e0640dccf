/** Nodes as a kubelet registers them, and label changes as node-feature-discovery makes them. */
import type { ControlPlane } from './controlplane.js';
import { MERGE_PATCH } from './rest.js';

async function ok(reply: ReturnType<ControlPlane['rest']>, ...statuses: number[]): Promise<void> {
  const r = await reply;
  if (!statuses.includes(r.status)) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body)}`);
}

/** The label node-feature-discovery gives a node with the README's Zigbee stick (a CP2102 USB serial adapter). */
export const USB_LABEL = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';

/**
 * What node-feature-discovery labels every node with besides its devices (a real node has dozens): the sidecar
 * tells an unplugged device (one NFD label gone) from an NFD restart (every NFD label gone) by them.
 */
export const NFD_BASELINE_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'true',
  'feature.node.kubernetes.io/kernel-version.major': '6',
  'feature.node.kubernetes.io/system-os_release.ID': 'debian',
});

/**
 * A Node as a kubelet would register it, labelled as NFD labels it: Ready, with room for pods and a kubelet
 * version (the API server's own unless given: the webhook's `auto` mode reads it), and without the not-ready taint that admission puts on new nodes (no node lifecycle controller runs
 * here to lift it).
 */
export async function registerNode(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string>,
  kubeletVersion = cp.version,
): Promise<void> {
  await ok(
    cp.rest('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { ...NFD_BASELINE_LABELS, ...labels } },
    }),
    201,
  );
  const resources = { cpu: '4', memory: '8Gi', pods: '110' };
  await ok(
    cp.rest(
      'PATCH',
      `/api/v1/nodes/${name}/status`,
      {
        status: {
          capacity: resources,
          allocatable: resources,
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              lastHeartbeatTime: new Date().toISOString(),
            },
          ],
          nodeInfo: {
            kubeletVersion,
            architecture: labels['kubernetes.io/arch'] ?? 'arm64',
            operatingSystem: 'linux',
          },
        },
      },
      { contentType: MERGE_PATCH },
    ),
    200,
  );
  await ok(
    cp.rest('PATCH', `/api/v1/nodes/${name}`, { spec: { taints: null } }, { contentType: MERGE_PATCH }),
    200,
  );
}

/** Sets (string) or removes (null) node labels. */
export async function setNodeLabels(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string | null>,
): Promise<void> {
  await ok(
    cp.rest('PATCH', `/api/v1/nodes/${name}`, { metadata: { labels } }, { contentType: MERGE_PATCH }),
    200,
  );
}
