/** Reads the cluster's versions for `auto` mode: the API server's and every kubelet's, refreshed periodically. */
import { CoreV1Api, type KubeConfig, VersionApi } from '@kubernetes/client-node';
import type { ClusterVersions } from './pure/mode.js';

export async function readClusterVersions(kubeConfig: KubeConfig): Promise<ClusterVersions> {
  const [server, nodes] = await Promise.all([
    kubeConfig.makeApiClient(VersionApi).getCode(),
    kubeConfig.makeApiClient(CoreV1Api).listNode({ limit: 5_000 }),
  ]);
  const kubelets = nodes.items.map((n) => n.status?.nodeInfo?.kubeletVersion ?? '').filter((v) => v !== '');
  return { server: server.gitVersion, kubelets };
}
