/**
 * `kubectl sidecar-destruct`, the compiled executable users install (scripts/build-plugin.sh), against a real
 * kube-apiserver and kube-scheduler with the webhook installed: what a read-only user sees, what a user who may
 * not list nodes is told, and whether `explain --nodes` agrees with where the scheduler puts a replacement.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { type ControlPlane, MERGE_PATCH, serviceAccountKubeconfig } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enabledNamespace,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  RBAC_API,
  USB,
  usbPod,
} from './fixtures.js';
import { buildPlugin, type Ran } from './plugin-fixtures.js';

const NS = 'home';
let cluster: InstalledCluster;
let cp: ControlPlane;
let plugin: string;
let home: string;
const kubeconfigs = new Map<string, string>();

/** What the plugin shows, readable (get, list) and nothing more; `nodes: false` leaves out the nodes. */
function viewerRole(name: string, nodes: boolean) {
  const rule = (apiGroups: string[], resources: string[]) => ({
    apiGroups,
    resources,
    verbs: ['get', 'list'],
  });
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      rule([''], ['pods', 'events', 'namespaces', 'configmaps', 'secrets', ...(nodes ? ['nodes'] : [])]),
      rule(['discovery.k8s.io'], ['endpointslices']),
      rule(['rbac.authorization.k8s.io'], ['rolebindings', 'clusterrolebindings']),
      rule(
        ['admissionregistration.k8s.io'],
        ['validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingwebhookconfigurations'],
      ),
      rule(['batch'], ['cronjobs']),
    ],
  };
}

/** A ServiceAccount bound to `viewerRole`, and a kubeconfig that acts as it. */
async function viewer(name: string, nodes: boolean): Promise<string> {
  await expectStatus(
    cp.rest('POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name } }),
    201,
  );
  await expectStatus(cp.rest('POST', `${RBAC_API}/clusterroles`, viewerRole(name, nodes)), 201);
  await expectStatus(
    cp.rest('POST', `${RBAC_API}/clusterrolebindings`, {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'default' }],
    }),
    201,
  );
  return serviceAccountKubeconfig(cp, 'default', name, join(home, `${name}.kubeconfig`));
}

/** Runs the plugin as `who`, the way kubectl runs a plugin: its own process, KUBECONFIG from the environment. */
function kubectlSidecarDestruct(who: string, ...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(plugin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: home, KUBECONFIG: kubeconfigs.get(who) ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const json = async (who: string, ...args: string[]) => {
  const ran = await kubectlSidecarDestruct(who, ...args, '-o', 'json');
  expect(ran.stderr, ran.stdout).toBe('');
  return { code: ran.code, report: JSON.parse(ran.stdout) };
};

/** A copy of the zigbee pod, as its Deployment would make it after the first went: same rule, new name. */
const replacement = (name: string): V1Pod => usbPod(name);

/** Waits until the scheduler decided about `name`: bound to a node, or marked Unschedulable. */
async function scheduled(name: string): Promise<{ node?: string; unschedulable: boolean }> {
  return eventually(async () => {
    const pod = (await expectStatus(cp.rest('GET', `/api/v1/namespaces/${NS}/pods/${name}`), 200)) as V1Pod;
    const condition = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    const unschedulable = condition?.status === 'False' && condition.reason === 'Unschedulable';
    if (!pod.spec?.nodeName && !unschedulable) throw new Error(`${name} not decided yet`);
    return { ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}), unschedulable };
  }, 60_000);
}

beforeAll(async () => {
  [plugin, cluster] = await Promise.all([
    buildPlugin(),
    installedCluster({ scheduler: true, controllerManager: true }),
  ]);
  cp = cluster.cp;
  home = await mkdtemp(join(cp.dir, 'plugin-'));
  await enabledNamespace(cp, NS);
  await expectStatus(cp.rest('POST', `/api/v1/namespaces/${NS}/pods`, usbPod('z2m')), 201);
  expect((await scheduled('z2m')).node).toBe('pi-a');
  kubeconfigs.set('viewer', await viewer('viewer', true));
  kubeconfigs.set('no-nodes', await viewer('no-nodes', false));
});

afterAll(async () => cluster?.stop());

describe('a read-only user (get and list only)', () => {
  it('sees every opted-in pod: its node, rule, verdict, grace, injection and roles', async () => {
    const { code, report } = await json('viewer', 'status', '-n', NS);
    expect(report.unread).toEqual([]);
    expect(report.pods).toHaveLength(1);
    expect(report.pods[0]).toMatchObject({
      pod: 'z2m',
      node: 'pi-a',
      rule: `${USB}=true`,
      verdict: 'matches',
      grace: '10s',
      injection: 'native sidecar',
      roles: 'held',
      problems: [],
    });
    expect(code).toBe(0);
  });

  it('explains the pod from the cluster, and lists where a replacement could go', async () => {
    const own = await kubectlSidecarDestruct('viewer', 'explain', 'z2m', '-n', NS);
    expect(own.code, own.stderr).toBe(0);
    expect(own.stdout).toContain('pi-a');
    const { code, report } = await json('viewer', 'explain', 'z2m', '-n', NS, '--nodes');
    expect(code).toBe(0);
    expect(report.current).toMatchObject({ node: 'pi-a', verdict: { matches: true } });
    expect(report.nodes.map((n: { node: string; fits: boolean }) => [n.node, n.fits])).toEqual([
      ['pi-a', true],
      ['pi-b', false],
    ]);
    const other = await kubectlSidecarDestruct('viewer', 'explain', 'z2m', '-n', NS, '--node', 'pi-b');
    expect(other.code).toBe(1);
    expect(other.stdout).toContain(`node has no label ${USB}`);
  });

  it('gets an answer on every line of check, but the dry run that needs create', async () => {
    const { report } = await json('viewer', 'check');
    const lines = report.checks as { check: string; status: string; detail: string }[];
    expect(lines.map((l) => l.check)).toEqual([
      'server version',
      'admission policies',
      'webhook endpoints',
      'webhook reachable',
      'serving certificate',
      'sidecar image',
      'node-feature-discovery',
      'native sidecars',
    ]);
    // The test kit's webhook is called by URL, so there is no Service to judge; the dry run needs create.
    expect(lines.find((l) => l.check === 'webhook endpoints')?.status).toBe('skip');
    const unanswered = lines.filter((l) => l.status === 'unknown' || l.status === 'skip').map((l) => l.check);
    expect(unanswered, JSON.stringify(lines)).toEqual(['webhook endpoints', 'webhook reachable']);
    expect(lines.find((l) => l.check === 'admission policies')?.status).toBe('ok');
    expect(lines.find((l) => l.check === 'native sidecars')?.status).toBe('ok');
  });
});

describe('a user who may not list nodes', () => {
  it('is told what it cannot see, and every other column still answers', async () => {
    const { code, report } = await json('no-nodes', 'status', '-n', NS);
    expect(report.unread).toEqual(['cannot list nodes: forbidden by RBAC: verdicts unknown']);
    expect(report.pods[0]).toMatchObject({ verdict: 'unknown (cannot list nodes)', roles: 'held' });
    expect(code).toBe(3);
    const nodes = await kubectlSidecarDestruct('no-nodes', 'explain', 'z2m', '-n', NS, '--nodes');
    expect(nodes.code).toBe(2);
    expect(nodes.stderr).toBe(
      'kubectl sidecar-destruct: cannot list nodes: forbidden by RBAC (this command needs get and list on it)\n',
    );
    const check = await json('no-nodes', 'check');
    expect(check.report.checks.at(-1)).toMatchObject({
      status: 'unknown',
      detail: 'cannot list nodes: forbidden by RBAC',
    });
  });
});

describe('explain --nodes agrees with the scheduler', () => {
  it('a replacement lands on a node it lists; with none listed, it stays Pending', async () => {
    const listed = await json('viewer', 'explain', 'z2m', '-n', NS, '--nodes');
    const fits = listed.report.nodes
      .filter((n: { fits: boolean }) => n.fits)
      .map((n: { node: string }) => n.node);
    expect(fits).toEqual(['pi-a']);
    await expectStatus(cp.rest('POST', `/api/v1/namespaces/${NS}/pods`, replacement('z2m-2')), 201);
    expect(fits).toContain((await scheduled('z2m-2')).node);

    await expectStatus(
      cp.rest('PATCH', '/api/v1/nodes/pi-a', { spec: { unschedulable: true } }, { contentType: MERGE_PATCH }),
      200,
    );
    const none = await kubectlSidecarDestruct('viewer', 'explain', 'z2m', '-n', NS, '--nodes');
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('No node fits: a replacement of z2m would stay Pending.');
    await expectStatus(cp.rest('POST', `/api/v1/namespaces/${NS}/pods`, replacement('z2m-3')), 201);
    expect(await scheduled('z2m-3')).toEqual({ unschedulable: true });
  });
});

describe('a cluster that cannot be used', () => {
  it('is one line on stderr and exit 2, never a stack trace', async () => {
    const file = join(home, 'unreachable.kubeconfig');
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'users: [{ name: u, user: { token: t } }]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    kubeconfigs.set('unreachable', file);
    for (const args of [['status'], ['check'], ['explain', 'z2m']]) {
      const ran = await kubectlSidecarDestruct('unreachable', ...args);
      expect(ran).toEqual({
        code: 2,
        stdout: '',
        stderr:
          'kubectl sidecar-destruct: cannot reach the API server at https://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n',
      });
    }
    const context = await kubectlSidecarDestruct('viewer', 'status', '--context', 'nope');
    expect(context).toEqual({
      code: 2,
      stdout: '',
      stderr: 'kubectl sidecar-destruct: no context "nope" in the kubeconfig\n',
    });
  });
});
