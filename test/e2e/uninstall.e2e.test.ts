/**
 * Uninstalling as the README says, on a real kube-apiserver: once the webhook has made accounts and bindings by
 * both routes (a pod of an enabled namespace, a granted account), the README's commands leave nothing of
 * sidecar-destruct behind.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { RunningWebhook } from '@sidecar-destruct/infra';
import type { ControlPlane } from '@sidecar-destruct/testkit';
import { DEPLOY_DIR } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  MANAGED_BY_WEBHOOK,
  managedBindings,
  RBAC_API,
  usbPod,
} from './fixtures.js';

let cluster: InstalledCluster;
let cp: ControlPlane;
let webhook: RunningWebhook;

beforeAll(async () => {
  cluster = await installedCluster();
  ({ cp, webhook } = cluster);
  // Admission makes the dedicated account and its two bindings before it answers.
  await createNamespace(cp, 'home', { 'sidecar-destruct.io/injection': 'enabled' });
  await expectStatus(cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('app')), 201);
  // The webhook's watch binds an account its admin grants.
  await createNamespace(cp, 'team');
  await expectStatus(
    cp.rest('POST', '/api/v1/namespaces/team/serviceaccounts', {
      metadata: { name: 'deployer', labels: { 'sidecar-destruct.io/sidecar-roles': 'granted' } },
    }),
    201,
  );
  await eventually(async () => {
    expect(await managedBindings(cp)).toEqual(
      expect.arrayContaining([
        'ClusterRoleBinding sidecar-destruct:home:sidecar-destruct',
        'ClusterRoleBinding sidecar-destruct:team:deployer',
      ]),
    );
  }, 20_000);
});
afterAll(async () => cluster?.stop());

describe('uninstall', () => {
  it("the README's commands remove everything the webhook made, and its roles and policies", async () => {
    expect((await managedBindings(cp)).length).toBeGreaterThan(0);
    await webhook.stop();
    const readme = await readFile(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('**Uninstall**'), readme.indexOf('**Known limits.**'));
    const commands = [...section.matchAll(/`kubectl (delete [^`]+)`/g)].map((m) => (m[1] ?? '').split(' '));
    expect(commands.length).toBe(3);
    for (const args of commands) {
      const [verb, ...rest] = args;
      // `-k deploy/` is the install's own directory; the harness applied parts of it, so ignore what is absent.
      const resolved = rest.map((a) => (a === 'deploy/' ? DEPLOY_DIR : a));
      await cp.kubectl([verb ?? 'delete', ...resolved, '--ignore-not-found', '--wait=false']);
    }
    expect(await managedBindings(cp)).toEqual([]);
    const accounts = await expectStatus(
      cp.rest('GET', `/api/v1/serviceaccounts?labelSelector=${MANAGED_BY_WEBHOOK}`),
      200,
    );
    expect(accounts.items).toEqual([]);
    const left = async (path: string) =>
      (await expectStatus(cp.rest('GET', path), 200)).items
        .map((o: { metadata?: V1ObjectMeta }) => o.metadata?.name ?? '')
        .filter((n: string) => n.startsWith('sidecar-destruct'));
    expect(await left(`${RBAC_API}/clusterroles`)).toEqual([]);
    expect(await left(`${RBAC_API}/clusterrolebindings`)).toEqual([]);
    expect(await left('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies')).toEqual([]);
    expect(await left('/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings')).toEqual([]);
    expect(await left('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations')).toEqual([]);
  });
});
