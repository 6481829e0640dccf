/**
 * "Nobody gains a permission through sidecar-destruct", tried as an attacker would on a real kube-apiserver with
 * RBAC, the default admission chain, deploy/base installed and the webhook running with deploy/'s credentials.
 * One describe per attack, each asserting the safe outcome; then the limits of a sidecar's own token, and the
 * bindings of a namespace that is deleted or no longer enabled going with it.
 */
import { request } from 'node:https';
import type { V1Pod } from '@kubernetes/client-node';
import { type RunningWebhook, TEST_SIDECAR_IMAGE, WEBHOOK_NAMESPACE } from '@sidecar-destruct/infra';
import type { ControlPlane, Reply } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  createNode,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  MANAGED_BY_WEBHOOK,
  managedBindings,
  RBAC_API,
  USB,
  usbPod,
} from './fixtures.js';

const GRANT = 'sidecar-destruct.io/sidecar-roles';
const grantCommand = (ns: string, account: string) =>
  `kubectl label serviceaccount ${account} -n ${ns} ${GRANT}=granted`;

let cluster: InstalledCluster;
let cp: ControlPlane;
let webhook: RunningWebhook;

beforeAll(async () => {
  // The controller-manager deletes namespaces (and makes their default accounts). The periodic reconcile is
  // pushed out of the suite's time (an hour): every grant, revocation and clean-up below must come from the
  // webhook's watches, within the polls' 20 s.
  cluster = await installedCluster({ controllerManager: true }, ['--reconcile-interval-seconds=3600']);
  ({ cp, webhook } = cluster);
});
afterAll(async () => cluster?.stop());

// ---------------------------------------------------------------------------------------------------------
// Helpers: users are ServiceAccounts with exactly the Role a test gives them, tokens come from TokenRequest.

async function serviceAccount(ns: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  await expectStatus(
    cp.rest('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name, labels } }),
    201,
  );
}

/** A Role with `rules`, bound to ServiceAccount `account` of `ns`. */
async function grantRole(ns: string, account: string, rules: object[]): Promise<void> {
  const name = `${account}-role`;
  await expectStatus(
    cp.rest('POST', `${RBAC_API}/namespaces/${ns}/roles`, { metadata: { name }, rules }),
    201,
  );
  await expectStatus(
    cp.rest('POST', `${RBAC_API}/namespaces/${ns}/rolebindings`, {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: ns }],
    }),
    201,
  );
}

/** As an admin: a RoleBinding `name` in `ns` of the sidecar's ClusterRole to `subject`. */
async function bindSidecarRole(ns: string, name: string, subject: object): Promise<void> {
  await expectStatus(
    cp.rest('POST', `${RBAC_API}/namespaces/${ns}/rolebindings`, {
      metadata: { name },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'sidecar-destruct-sidecar',
      },
      subjects: [subject],
    }),
    201,
  );
}

/** A token of the account, bound to a pod when one is given (what the kubelet mounts), else to nothing. */
async function tokenOf(ns: string, account: string, pod?: V1Pod): Promise<{ token: string }> {
  const spec = pod
    ? {
        expirationSeconds: 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
      }
    : { expirationSeconds: 3600 };
  const reply = await expectStatus(
    cp.rest('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${account}/token`, { spec }),
    201,
  );
  return { token: reply.status.token };
}

const sidecarOf = (p: V1Pod) =>
  [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].find(
    (c) => c.name === 'sidecar-destruct',
  );

const deletePod = (ns: string, name: string, as?: { token: string }, body?: object): Promise<Reply> =>
  cp.rest('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, body, as);

/** An eviction, with `uid` as its precondition when given (the sidecar always sends its own pod's). */
const evictPod = (ns: string, name: string, as: { token: string }, uid?: string): Promise<Reply> =>
  cp.rest(
    'POST',
    `/api/v1/namespaces/${ns}/pods/${name}/eviction`,
    {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace: ns },
      ...(uid ? { deleteOptions: { preconditions: { uid } } } : {}),
    },
    as,
  );

const status = async (reply: Promise<Reply>): Promise<number> => (await reply).status;

const exists = async (path: string): Promise<boolean> => (await cp.rest('GET', path)).status === 200;

const bindingsOf = (ns: string, account: string): string[] => [
  `ClusterRoleBinding sidecar-destruct:${ns}:${account}`,
  `RoleBinding ${ns}/sidecar-destruct:${account}`,
];

/**
 * Proves that a reconcile pass ran after this call (so that an absence asserted next is not "not yet"): grants
 * a fresh account and waits for the reconciler to bind it.
 */
let probes = 0;
async function reconciled(): Promise<void> {
  const ns = 'reconcile-probe';
  if (probes === 0) await createNamespace(cp, ns);
  const account = `probe-${++probes}`;
  await serviceAccount(ns, account, { [GRANT]: 'granted' });
  await eventually(async () => {
    expect(await managedBindings(cp)).toEqual(expect.arrayContaining(bindingsOf(ns, account)));
  }, 20_000);
}

/**
 * Asserts `check` right away (admission makes its bindings before it answers, so a grant it should not have made
 * is there now) and again after a reconcile pass (which must not make one either).
 */
async function holdsNowAndAfterReconcile(check: () => Promise<void>): Promise<void> {
  await check();
  await reconciled();
  await check();
}

/** POSTs an AdmissionReview straight to the webhook, as anyone who can reach its port could. */
function forge(review: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(review);
    const req = request(
      webhook.url,
      {
        method: 'POST',
        ca: webhook.ca.certPem,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const forgedReview = (ns: string, p: V1Pod, uid: string) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: ns,
    name: p.metadata?.name,
    operation: 'CREATE',
    userInfo: { username: 'system:admin', groups: ['system:masters'] },
    object: { ...p, metadata: { ...p.metadata, namespace: ns } },
  },
});

// ---------------------------------------------------------------------------------------------------------

describe('attack 1: a pod names an account to have it bound', () => {
  let app: V1Pod;
  let other: V1Pod;

  beforeAll(async () => {
    await createNamespace(cp, 'team', { 'sidecar-destruct.io/injection': 'enabled' });
    await serviceAccount('team', 'deployer');
    await serviceAccount('team', 'pod-creator');
    await grantRole('team', 'pod-creator', [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]);
    await expectStatus(cp.rest('POST', '/api/v1/namespaces/team/pods', usbPod('victim')), 201);
    // A second pod of deployer's, not opted in: the source of a token bound to a pod that is not the victim.
    other = await expectStatus(
      cp.rest(
        'POST',
        '/api/v1/namespaces/team/pods',
        usbPod('other', { account: 'deployer', labels: { 'sidecar-destruct.io/inject': 'false' } }),
      ),
      201,
    );
  });

  it('injects the pod but binds nothing to the account it named, and says which command would', async () => {
    const creator = await tokenOf('team', 'pod-creator');
    const reply = await cp.rest(
      'POST',
      '/api/v1/namespaces/team/pods',
      usbPod('app', { account: 'deployer' }),
      creator,
    );
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    app = reply.body;
    expect(sidecarOf(app)).toBeDefined();
    expect(app.spec?.serviceAccountName).toBe('deployer');
    expect(reply.headers?.warning).toContain(grantCommand('team', 'deployer'));
    expect(reply.headers?.warning).toContain('the sidecar cannot delete this pod');

    await holdsNowAndAfterReconcile(async () => {
      const now = await managedBindings(cp);
      for (const b of bindingsOf('team', 'deployer')) expect(now).not.toContain(b);
    });
  });

  it("leaves the account's token without pod delete, eviction or node watch", async () => {
    const deployer = await tokenOf('team', 'deployer', other);
    expect(await status(deletePod('team', 'victim', deployer))).toBe(403);
    expect(await status(evictPod('team', 'victim', deployer))).toBe(403);
    expect(
      await status(cp.rest('GET', '/api/v1/nodes?watch=true&timeoutSeconds=1', undefined, deployer)),
    ).toBe(403);
  });

  it('lets no one without the right to bind the roles grant them, not even who may edit the account', async () => {
    await serviceAccount('team', 'editor');
    await expectStatus(
      cp.rest('POST', `${RBAC_API}/namespaces/team/rolebindings`, {
        metadata: { name: 'editor-edit' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ kind: 'ServiceAccount', name: 'editor', namespace: 'team' }],
      }),
      201,
    );
    const editor = await tokenOf('team', 'editor');
    const label = (account: string) =>
      cp.rest(
        'PATCH',
        `/api/v1/namespaces/team/serviceaccounts/${account}`,
        { metadata: { labels: { [GRANT]: 'granted' } } },
        { contentType: 'application/merge-patch+json', ...editor },
      );
    // The editor may update the account (another label is fine), but not grant it the roles.
    await eventually(async () => {
      const other = await cp.rest(
        'PATCH',
        '/api/v1/namespaces/team/serviceaccounts/deployer',
        { metadata: { labels: { team: 'ci' } } },
        { contentType: 'application/merge-patch+json', ...editor },
      );
      expect(other.status, JSON.stringify(other.body)).toBe(200);
    });
    const refused = await label('deployer');
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.message).toContain('may not grant the sidecar roles');
    const created = await cp.rest(
      'POST',
      '/api/v1/namespaces/team/serviceaccounts',
      { metadata: { name: 'self-granted', labels: { [GRANT]: 'granted' } } },
      editor,
    );
    expect(created.status).toBe(403);
  });

  it('once its admin grants the account, confines it to its own pod: never a neighbour', async () => {
    await expectStatus(
      cp.rest(
        'PATCH',
        '/api/v1/namespaces/team/serviceaccounts/deployer',
        { metadata: { labels: { [GRANT]: 'granted' } } },
        { contentType: 'application/merge-patch+json' },
      ),
      200,
    );
    await eventually(async () => {
      expect(await managedBindings(cp)).toEqual(expect.arrayContaining(bindingsOf('team', 'deployer')));
    }, 20_000);
    const ofOther = await tokenOf('team', 'deployer', other);
    // RBAC now allows the delete (the role is bound); the own-pod policy refuses it.
    await eventually(async () => {
      const refused = await deletePod('team', 'victim', ofOther);
      expect(refused.status).toBe(403);
      expect(refused.body.message).toContain(
        'holds the sidecar role, so it may only delete or evict the pod',
      );
    });
    expect(await status(evictPod('team', 'victim', ofOther))).toBe(403);
    expect(await status(deletePod('team', 'victim', await tokenOf('team', 'deployer')))).toBe(403);
    expect(await status(cp.rest('GET', '/api/v1/nodes/pi-a', undefined, ofOther))).toBe(200);
    // Its own pod, with the token bound to it.
    expect(await status(deletePod('team', 'app', await tokenOf('team', 'deployer', app)))).toBe(200);
  });

  it('confines every holder of the sidecar role, however it was bound (here: a group)', async () => {
    await bindSidecarRole('team', 'all-accounts-sidecar', {
      kind: 'Group',
      name: 'system:serviceaccounts:team',
      apiGroup: 'rbac.authorization.k8s.io',
    });
    const creator = await tokenOf('team', 'pod-creator');
    await eventually(async () => {
      const refused = await deletePod('team', 'victim', creator);
      expect(refused.status).toBe(403);
      expect(refused.body.message).toContain('holds the sidecar role');
    });
    await expectStatus(
      cp.rest('DELETE', `${RBAC_API}/namespaces/team/rolebindings/all-accounts-sidecar`),
      200,
    );
    expect((await cp.rest('GET', '/api/v1/namespaces/team/pods/victim')).status).toBe(200);
  });

  it('removes the bindings when the grant label goes', async () => {
    await expectStatus(
      cp.rest(
        'PATCH',
        '/api/v1/namespaces/team/serviceaccounts/deployer',
        { metadata: { labels: { [GRANT]: null } } },
        { contentType: 'application/merge-patch+json' },
      ),
      200,
    );
    await eventually(async () => {
      const now = await managedBindings(cp);
      for (const b of bindingsOf('team', 'deployer')) expect(now).not.toContain(b);
    }, 20_000);
  });
});

describe('attack 2: forged AdmissionReviews posted straight to the webhook', () => {
  beforeAll(async () => {
    await createNamespace(cp, 'victim');
    await serviceAccount('victim', 'victim-admin');
    await expectStatus(cp.rest('POST', '/api/v1/namespaces/victim/pods', usbPod('precious')), 201);
  });

  it('create no binding for an account or namespace they name, and no account in kube-*', async () => {
    const before = await managedBindings(cp);
    for (const [ns, account] of [
      ['victim', 'victim-admin'],
      ['victim', undefined],
      ['default', undefined],
      ['kube-node-lease', undefined],
    ] as const) {
      const p = usbPod(`forged-${ns}`, { labels: { 'sidecar-destruct.io/inject': 'true' }, account });
      expect(await forge(forgedReview(ns, p, `forged-${ns}-${account ?? 'default'}`))).toBe(200);
    }
    await holdsNowAndAfterReconcile(async () => {
      expect((await managedBindings(cp)).filter((b) => !b.includes('reconcile-probe'))).toEqual(
        before.filter((b) => !b.includes('reconcile-probe')),
      );
    });
    expect(await exists('/api/v1/namespaces/kube-node-lease/serviceaccounts/sidecar-destruct')).toBe(false);
    // The named account gained nothing.
    const admin = await tokenOf('victim', 'victim-admin');
    expect(await status(deletePod('victim', 'precious', admin))).toBe(403);
    expect(await status(cp.rest('GET', '/api/v1/nodes/pi-a', undefined, admin))).toBe(403);
  });

  it('100 forged reviews with made-up accounts leave no binding and at most the one rights-less account', async () => {
    const before = await managedBindings(cp);
    for (let i = 0; i < 100; i++) {
      const p = usbPod(`made-up-${i}`, {
        labels: { 'sidecar-destruct.io/inject': 'true' },
        account: `made-up-${i}`,
      });
      expect(await forge(forgedReview('victim', p, `made-up-${i}`))).toBe(200);
    }
    await holdsNowAndAfterReconcile(async () => {
      expect((await managedBindings(cp)).filter((b) => !b.includes('reconcile-probe'))).toEqual(
        before.filter((b) => !b.includes('reconcile-probe')),
      );
    });
    const accounts = await expectStatus(
      cp.rest('GET', `/api/v1/serviceaccounts?labelSelector=${MANAGED_BY_WEBHOOK}`),
      200,
    );
    const names: string[] = accounts.items.map((a: V1Pod) => `${a.metadata?.namespace}/${a.metadata?.name}`);
    expect(names.every((n) => n.endsWith('/sidecar-destruct'))).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("attack 3: the webhook's own credentials", () => {
  let asWebhook: { token: string };
  const binding = (
    kind: 'RoleBinding' | 'ClusterRoleBinding',
    role: string,
    subject: object,
    ns?: string,
  ) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: {
      name: `attack-${Math.random().toString(36).slice(2, 8)}`,
      ...(ns ? { namespace: ns } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'sidecar-destruct-webhook' },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [subject],
  });
  const everyone = { kind: 'Group', name: 'system:authenticated', apiGroup: 'rbac.authorization.k8s.io' };

  beforeAll(async () => {
    asWebhook = await tokenOf(WEBHOOK_NAMESPACE, 'sidecar-destruct-webhook');
    await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/kube-system/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'core-dns' },
        spec: { containers: [{ name: 'c', image: 'example/dns:1' }] },
      }),
      201,
    );
  });

  it('cannot bind a sidecar role to a group, a user or another namespace, nor bind other roles', async () => {
    const crb = `${RBAC_API}/clusterrolebindings`;
    /** A RoleBinding in namespace victim of `role` to `subject`, as the webhook would post it. */
    const inVictim = (role: string, subject: object) =>
      [
        `${RBAC_API}/namespaces/victim/rolebindings`,
        binding('RoleBinding', role, subject, 'victim'),
      ] as const;
    for (const [path, body] of [
      [crb, binding('ClusterRoleBinding', 'sidecar-destruct-sidecar', everyone)],
      [crb, binding('ClusterRoleBinding', 'sidecar-destruct-node-reader', everyone)],
      [
        crb,
        binding('ClusterRoleBinding', 'sidecar-destruct-node-reader', {
          kind: 'ServiceAccount',
          name: 'x',
          namespace: 'kube-system',
        }),
      ],
      inVictim('sidecar-destruct-sidecar', everyone),
      inVictim('sidecar-destruct-sidecar', {
        kind: 'User',
        name: 'mallory',
        apiGroup: 'rbac.authorization.k8s.io',
      }),
      inVictim('sidecar-destruct-sidecar', { kind: 'ServiceAccount', name: 'default', namespace: 'team' }),
      inVictim('admin', { kind: 'ServiceAccount', name: 'default', namespace: 'victim' }),
    ] as const) {
      const reply = await cp.rest('POST', path, body, asWebhook);
      expect(
        reply.status,
        `${body.roleRef.name} → ${JSON.stringify(body.subjects)}: ${reply.body?.message}`,
      ).toBe(403);
    }
    // And so nobody deletes a pod in kube-system.
    const anyone = await tokenOf('victim', 'default');
    expect(await status(deletePod('kube-system', 'core-dns', anyone))).toBe(403);
  });

  it('cannot create accounts in kube-* or with another name, nor change or delete what it did not make', async () => {
    const sa = (ns: string, name: string) =>
      cp.rest('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } }, asWebhook);
    expect(await status(sa('kube-system', 'sidecar-destruct'))).toBe(403);
    expect(await status(sa('kube-public', 'sidecar-destruct'))).toBe(403);
    expect(await status(sa('victim', 'builder'))).toBe(403);
    await bindSidecarRole('victim', 'theirs', {
      kind: 'ServiceAccount',
      name: 'victim-admin',
      namespace: 'victim',
    });
    expect(
      await status(
        cp.rest('DELETE', `${RBAC_API}/namespaces/victim/rolebindings/theirs`, undefined, asWebhook),
      ),
    ).toBe(403);
    await expectStatus(cp.rest('DELETE', `${RBAC_API}/namespaces/victim/rolebindings/theirs`), 200);
  });

  it('may still do its job: the dedicated account and its two bindings', async () => {
    await createNamespace(cp, 'job', { 'sidecar-destruct.io/injection': 'enabled' });
    expect(
      await status(
        cp.rest(
          'POST',
          '/api/v1/namespaces/job/serviceaccounts',
          { metadata: { name: 'sidecar-destruct' } },
          asWebhook,
        ),
      ),
    ).toBe(201);
    const subject = { kind: 'ServiceAccount', name: 'sidecar-destruct', namespace: 'job' };
    expect(
      await status(
        cp.rest(
          'POST',
          `${RBAC_API}/namespaces/job/rolebindings`,
          binding('RoleBinding', 'sidecar-destruct-sidecar', subject, 'job'),
          asWebhook,
        ),
      ),
    ).toBe(201);
    expect(
      await status(
        cp.rest(
          'POST',
          `${RBAC_API}/clusterrolebindings`,
          binding('ClusterRoleBinding', 'sidecar-destruct-node-reader', subject),
          asWebhook,
        ),
      ),
    ).toBe(201);
  });
});

describe('attack 4: opted-in pods without a working sidecar', () => {
  beforeAll(async () => {
    await createNamespace(cp, 'home', { 'sidecar-destruct.io/injection': 'enabled' });
  });

  const marked = (name: string, statusValue: string, extra: Partial<V1Pod['spec']> = {}): V1Pod => {
    const p = usbPod(name);
    return {
      ...p,
      metadata: { ...p.metadata, annotations: { 'sidecar-destruct.io/status': statusValue } },
      spec: { ...(p.spec as NonNullable<V1Pod['spec']>), ...extra },
    };
  };
  const refused = async (p: V1Pod, message: string): Promise<void> => {
    const reply = await cp.rest('POST', '/api/v1/namespaces/home/pods', p);
    expect(reply.status, JSON.stringify(reply.body)).toBe(403);
    expect(reply.body.message).toContain(message);
  };

  it('refuses a constrained pod preset to nothing-to-enforce, or to a status the injector never writes', async () => {
    await refused(
      marked('preset-skip', 'nothing-to-enforce'),
      'marked nothing-to-enforce but has a nodeSelector',
    );
    await refused(marked('preset-other', 'skipped'), 'only injected or nothing-to-enforce');
    const affinity = marked('preset-affinity', 'nothing-to-enforce', {
      nodeSelector: {},
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: USB, operator: 'Exists' }] }],
          },
        },
      },
    });
    await refused(affinity, 'marked nothing-to-enforce');
  });

  it('refuses a pod marked injected whose sidecar-destruct container is not the configured sidecar', async () => {
    const lookalike = (image: string, command?: string[]) => ({
      name: 'sidecar-destruct',
      image,
      ...(command ? { command } : {}),
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    });
    const app = usbPod('x').spec?.containers[0];
    await refused(
      marked('busybox', 'injected', { containers: [app as never, lookalike('busybox:1.37')] }),
      'marked injected but has no sidecar-destruct container running',
    );
    await refused(
      marked('command', 'injected', {
        containers: [app as never, lookalike(TEST_SIDECAR_IMAGE, ['sleep', 'inf'])],
      }),
      'marked injected',
    );
  });

  it('admits an unconstrained pod as nothing-to-enforce, and an injected one', async () => {
    const free = usbPod('free');
    delete free.spec?.nodeSelector;
    const admitted = await expectStatus(cp.rest('POST', '/api/v1/namespaces/home/pods', free), 201);
    expect(admitted.metadata.annotations['sidecar-destruct.io/status']).toBe('nothing-to-enforce');
    const injected = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('pinned')),
      201,
    );
    expect(sidecarOf(injected)?.image).toBe(TEST_SIDECAR_IMAGE);
  });

  it('leaves no binding behind for a pod that Pod Security refused', async () => {
    await createNamespace(cp, 'strict', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    await serviceAccount('strict', 'builder');
    const privileged = (name: string, account?: string): V1Pod => {
      const p = usbPod(name, { labels: { 'sidecar-destruct.io/inject': 'true' }, account });
      return { ...p, spec: { ...(p.spec as NonNullable<V1Pod['spec']>), hostNetwork: true } };
    };
    for (const p of [privileged('own', 'builder'), privileged('dedicated')]) {
      const reply = await cp.rest('POST', '/api/v1/namespaces/strict/pods', p);
      expect(reply.status, JSON.stringify(reply.body)).toBe(403);
      expect(reply.body.message).toContain('violates PodSecurity');
    }
    await holdsNowAndAfterReconcile(async () => {
      expect((await managedBindings(cp)).filter((b) => b.includes('strict'))).toEqual([]);
    });
  });
});

describe('attack 5: the identity change, said truly', () => {
  it('warns that every container of a pod switched from default runs as the sidecar account, and what it can do', async () => {
    const reply = await cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('switched'));
    expect(reply.status).toBe(201);
    expect(reply.body.spec.serviceAccountName).toBe('sidecar-destruct');
    // Warning headers quote the text: `299 - "…"`, with inner quotes escaped.
    const warning = String(reply.headers?.warning ?? '').replaceAll('\\"', '"');
    expect(warning).toContain('all its containers get that token');
    expect(warning).toContain('read every Node');
    expect(warning).toContain('lose what "default" was granted');
  });

  it('a pod opted in by its label where the namespace is not enabled gets no roles, and is told how', async () => {
    await createNamespace(cp, 'lone');
    const reply = await cp.rest(
      'POST',
      '/api/v1/namespaces/lone/pods',
      usbPod('solo', { labels: { 'sidecar-destruct.io/inject': 'true' } }),
    );
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    expect(reply.headers?.warning).toContain(grantCommand('lone', 'sidecar-destruct'));
    await holdsNowAndAfterReconcile(async () => {
      expect((await managedBindings(cp)).filter((b) => b.includes('lone'))).toEqual([]);
    });
  });
});

describe('attack 6: a pod of the same name in another namespace where the account also holds the role', () => {
  it('cannot be evicted with the token of the own pod, which still can be', async () => {
    const own = await expectStatus(cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('doppel')), 201);
    await createNamespace(cp, 'twin');
    const twin = await expectStatus(cp.rest('POST', '/api/v1/namespaces/twin/pods', usbPod('doppel')), 201);
    // An admin also binds the sidecar role in "twin" to the account (as a ClusterRoleBinding would).
    await bindSidecarRole('twin', 'also-here', {
      kind: 'ServiceAccount',
      name: 'sidecar-destruct',
      namespace: 'home',
    });
    const as = await tokenOf('home', 'sidecar-destruct', own);
    // RBAC allows the eviction in "twin" before anything below is tried, so that only the policy can refuse it.
    await eventually(async () => {
      const review = await expectStatus(
        cp.rest(
          'POST',
          '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
          {
            spec: {
              resourceAttributes: {
                namespace: 'twin',
                resource: 'pods',
                subresource: 'eviction',
                verb: 'create',
              },
            },
          },
          as,
        ),
        201,
      );
      expect(review.status.allowed).toBe(true);
    }, 20_000);
    const refused = await evictPod('twin', 'doppel', as);
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.message).toContain('with that pod');
    expect(await status(evictPod('twin', 'doppel', as, twin.metadata.uid))).toBe(403);
    // The own pod's uid gets past the policy, and the API server's precondition then refuses the twin (409, after
    // the eviction's own retries: about 10 s).
    expect(await status(evictPod('twin', 'doppel', as, own.metadata.uid))).toBe(409);
    expect(await exists('/api/v1/namespaces/twin/pods/doppel')).toBe(true);
    expect(await status(evictPod('home', 'doppel', as, own.metadata.uid))).toBe(201);
  });
});

describe('the own-pod policy, for a neighbour from the first second of a namespace and for a terminating one', () => {
  /** What the kubelet projects for a pod bound to a node: a token whose user extra names the pod and the node. */
  async function kubeletToken(ns: string, p: V1Pod): Promise<{ token: string }> {
    const as = await tokenOf(ns, 'sidecar-destruct', p);
    const review = await expectStatus(
      cp.rest('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {}, as),
      201,
    );
    expect(review.status.userInfo.extra).toMatchObject({
      'authentication.kubernetes.io/pod-uid': [p.metadata?.uid],
      'authentication.kubernetes.io/node-name': [p.spec?.nodeName],
    });
    return as;
  }
  const onNode = (name: string, node: string): V1Pod => {
    const p = usbPod(name);
    return { ...p, spec: { ...(p.spec as NonNullable<V1Pod['spec']>), nodeName: node } };
  };

  /** An enabled namespace, and pods created in it through the webhook, bound to `node`, in this order. */
  async function podsIn(ns: string, node: string, names: readonly string[]): Promise<V1Pod[]> {
    await createNamespace(cp, ns, { 'sidecar-destruct.io/injection': 'enabled' });
    const pods: V1Pod[] = [];
    for (const name of names)
      pods.push(
        await expectStatus(cp.rest('POST', `/api/v1/namespaces/${ns}/pods`, onNode(name, node)), 201),
      );
    return pods;
  }

  it("refuses the neighbour's delete and eviction at once, before the reconciler has run", async () => {
    // Admission makes the bindings before it answers: the token may act the moment the first pod exists.
    const [mine] = await podsIn('first-second', 'pi-a', ['mine', 'neighbour']);
    const as = await kubeletToken('first-second', mine as V1Pod);
    // Refused by the policy, not by RBAC: the bindings admission made are already there.
    for (const reply of [
      await deletePod('first-second', 'neighbour', as),
      await evictPod('first-second', 'neighbour', as),
    ]) {
      expect(reply.status, JSON.stringify(reply.body)).toBe(403);
      expect(reply.body.message).toContain('may only delete or evict the pod its token was issued for');
    }
    expect(await exists('/api/v1/namespaces/first-second/pods/neighbour')).toBe(true);
    // The same token may act on its own pod: the refusals above are the policy's, not missing rights.
    expect(await status(evictPod('first-second', 'mine', as, mine?.metadata?.uid))).toBe(201);
  });

  it("answers a terminating neighbour's delete with 200 and changes nothing; a shorter grace is refused", async () => {
    // No kubelet finishes deletions on this node, so the neighbour stays terminating.
    await createNode(cp, 'no-kubelet', {});
    const [mine] = await podsIn('terminating', 'no-kubelet', ['mine-2', 'leaving']);
    await expectStatus(deletePod('terminating', 'leaving'), 200);
    const before = await expectStatus(cp.rest('GET', '/api/v1/namespaces/terminating/pods/leaving'), 200);
    expect(before.metadata.deletionTimestamp).toBeDefined();
    const as = await kubeletToken('terminating', mine as V1Pod);
    // Upstream answers a delete of a pod whose graceful deletion is pending without running admission, and
    // without writing anything (pkg/registry/rest/delete.go BeforeDelete): the pod is exactly as it was.
    expect(await status(deletePod('terminating', 'leaving', as))).toBe(200);
    const after = await expectStatus(cp.rest('GET', '/api/v1/namespaces/terminating/pods/leaving'), 200);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    // Shortening the grace period writes the pod, and so goes through the policy.
    const shorter = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 };
    expect(await status(deletePod('terminating', 'leaving', as, shorter))).toBe(403);
    expect(await status(evictPod('terminating', 'leaving', as))).toBe(403);
    expect(await exists('/api/v1/namespaces/terminating/pods/leaving')).toBe(true);
  });
});

describe("a sidecar's own token: its own pod, and nothing else", () => {
  let mine: V1Pod;
  let as: { token: string };

  beforeAll(async () => {
    mine = await expectStatus(cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('mine')), 201);
    await expectStatus(cp.rest('POST', '/api/v1/namespaces/home/pods', usbPod('neighbour')), 201);
    await eventually(async () => {
      expect(await managedBindings(cp)).toEqual(
        expect.arrayContaining(bindingsOf('home', 'sidecar-destruct')),
      );
    }, 20_000);
    as = await tokenOf('home', 'sidecar-destruct', mine);
  });

  it("refuses the sidecar token a neighbour's delete or eviction", async () => {
    expect(await status(deletePod('home', 'neighbour', as))).toBe(403);
    expect(await status(evictPod('home', 'neighbour', as))).toBe(403);
  });

  it('refuses a token of the sidecar account bound to no pod', async () => {
    const unbound = await tokenOf('home', 'sidecar-destruct');
    expect(await status(deletePod('home', 'mine', unbound))).toBe(403);
    expect(await status(evictPod('home', 'mine', unbound))).toBe(403);
  });

  it('answers 409 to a delete whose uid precondition is not the pod', async () => {
    const reply = await deletePod('home', 'mine', as, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: '00000000-0000-0000-0000-000000000000' },
    });
    expect(reply.status).toBe(409);
  });

  it('records Events only about its own pod', async () => {
    // The same forged Event through both Event APIs: core v1 names the pod in involvedObject, events.k8s.io/v1
    // in regarding.
    const event = (about: V1Pod, api: 'core' | 'events.k8s.io') => {
      const pod = { kind: 'Pod', namespace: 'home', name: about.metadata?.name, uid: about.metadata?.uid };
      const common = { metadata: { generateName: 'x.' }, reason: 'NodeConstraintLost', type: 'Warning' };
      return api === 'core'
        ? cp.rest(
            'POST',
            '/api/v1/namespaces/home/events',
            { ...common, involvedObject: pod, message: 'forged' },
            as,
          )
        : cp.rest(
            'POST',
            '/apis/events.k8s.io/v1/namespaces/home/events',
            {
              ...common,
              eventTime: new Date().toISOString(),
              reportingController: 'x',
              reportingInstance: 'x',
              action: 'x',
              regarding: pod,
              note: 'forged',
            },
            as,
          );
    };
    const neighbour = await expectStatus(cp.rest('GET', '/api/v1/namespaces/home/pods/neighbour'), 200);
    const refused = await event(neighbour, 'core');
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.message).toContain('may record Events only about the pod its token was issued for');
    expect(await status(event(mine, 'core'))).toBe(201);
    // The role grants no events.k8s.io create; RBAC or the policy refuses it either way.
    expect(await status(event(neighbour, 'events.k8s.io'))).toBe(403);
  });

  it('cannot list pods, read secrets or list nodes', async () => {
    expect(await status(cp.rest('GET', '/api/v1/namespaces/home/pods', undefined, as))).toBe(403);
    expect(await status(cp.rest('GET', '/api/v1/namespaces/home/secrets', undefined, as))).toBe(403);
    expect(await status(cp.rest('GET', '/api/v1/nodes', undefined, as))).toBe(403);
  });
});

describe('a namespace deleted and recreated, or no longer enabled: its bindings go with it', () => {
  const gone = async (ns: string) =>
    eventually(
      async () => expect((await cp.rest('GET', `/api/v1/namespaces/${ns}`)).status).toBe(404),
      60_000,
    );

  it('admits opted-in pods in a namespace recreated at once, and removes the old cluster-wide binding', async () => {
    await createNamespace(cp, 'cycle', { 'sidecar-destruct.io/injection': 'enabled' });
    await expectStatus(cp.rest('POST', '/api/v1/namespaces/cycle/pods', usbPod('first')), 201);
    expect(await managedBindings(cp)).toEqual(
      expect.arrayContaining(bindingsOf('cycle', 'sidecar-destruct')),
    );

    await expectStatus(cp.rest('DELETE', '/api/v1/namespaces/cycle'), 200);
    await gone('cycle');
    await eventually(async () => {
      expect(await managedBindings(cp)).not.toContain(
        'ClusterRoleBinding sidecar-destruct:cycle:sidecar-destruct',
      );
    }, 20_000);

    await createNamespace(cp, 'cycle', { 'sidecar-destruct.io/injection': 'enabled' });
    const reply = await cp.rest('POST', '/api/v1/namespaces/cycle/pods', usbPod('second'));
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    expect(sidecarOf(reply.body)).toBeDefined();
    expect(await managedBindings(cp)).toEqual(
      expect.arrayContaining(bindingsOf('cycle', 'sidecar-destruct')),
    );
  });

  it('removes the bindings of a namespace whose injection label is removed', async () => {
    await expectStatus(
      cp.rest(
        'PATCH',
        '/api/v1/namespaces/cycle',
        { metadata: { labels: { 'sidecar-destruct.io/injection': null } } },
        { contentType: 'application/merge-patch+json' },
      ),
      200,
    );
    await eventually(async () => {
      expect((await managedBindings(cp)).filter((b) => b.includes('cycle'))).toEqual([]);
    }, 20_000);
  });
});
