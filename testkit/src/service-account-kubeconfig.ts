/** Credentials of a ServiceAccount, so that what runs with them is held to that account's RBAC. */
import { writeFile } from 'node:fs/promises';
import type { ControlPlane } from './controlplane.js';

/** Requests a token for the account and writes a kubeconfig that uses it; returns the file. */
export async function serviceAccountKubeconfig(
  cp: ControlPlane,
  namespace: string,
  account: string,
  file: string,
  expirationSeconds = 3600,
): Promise<string> {
  const reply = await cp.rest('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds },
  });
  if (reply.status !== 201) throw new Error(`TokenRequest for ${namespace}/${account}: HTTP ${reply.status}`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority': cp.caFile } }],
      users: [{ name: account, user: { token: reply.body.status.token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: account } }],
      'current-context': 'c',
    }),
    { mode: 0o600 },
  );
  return file;
}
