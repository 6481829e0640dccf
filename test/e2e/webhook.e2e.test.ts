/**
 * The webhook on a real kube-apiserver: called over TLS through deploy/'s MutatingWebhookConfiguration,
 * mutated pods persisted and held to Pod Security "restricted", the sidecar's account and bindings created on
 * demand, and the admission policies of deploy/ enforced.
 */
import { readdir } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, type Socket } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { type RunningWebhook, TEST_SIDECAR_IMAGE, WEBHOOK_NAMESPACE } from '@sidecar-destruct/infra';
import {
  type ControlPlane,
  DEPLOY_DIR,
  MERGE_PATCH,
  readManifests,
  SIDECAR_CONTAINER,
  type StandInKubelet,
  until,
} from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNamespace,
  eventsOf,
  eventually,
  expectStatus,
  type InstalledCluster,
  installedCluster,
  podGone,
  setNodeLabels,
  USB,
  usbPod,
} from './fixtures.js';

let cluster: InstalledCluster;
let cp: ControlPlane;
let webhook: RunningWebhook;
let kubelet: StandInKubelet;

beforeAll(async () => {
  cluster = await installedCluster();
  ({ cp, webhook, kubelet } = cluster);
});

afterAll(async () => cluster?.stop());

/** A pod that passes Pod Security "restricted" on its own, pinned to the USB stick, with `extra` in its spec. */
function restrictedPod(
  name: string,
  labels: Record<string, string> = {},
  extra: Partial<V1Pod['spec']> = {},
): V1Pod {
  const pod = usbPod(name, { labels });
  return { ...pod, spec: { ...(pod.spec as NonNullable<V1Pod['spec']>), ...extra } };
}

const sidecarOf = (pod: V1Pod) => pod.spec?.initContainers?.find((c) => c.name === 'sidecar-destruct');

describe('injection through the real admission chain', () => {
  it('persists a pod of an enabled namespace with the sidecar, its env and account, under PSS restricted', async () => {
    await createNamespace(cp, 'home', {
      'sidecar-destruct.io/injection': 'enabled',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    const reply = await cp.rest('POST', '/api/v1/namespaces/home/pods', restrictedPod('z2m'));
    expect(reply.status, JSON.stringify(reply.body)).toBe(201);
    const pod = reply.body as V1Pod;
    const sidecar = sidecarOf(pod);
    expect(sidecar).toMatchObject({ image: TEST_SIDECAR_IMAGE, restartPolicy: 'Always' });
    expect(sidecar?.env?.map((e) => e.name)).toEqual(
      expect.arrayContaining(['SIDECAR_DESTRUCT_NODE_NAME', 'SIDECAR_DESTRUCT_RULE']),
    );
    expect(pod.spec?.serviceAccountName).toBe('sidecar-destruct');
    expect(pod.metadata?.annotations?.['sidecar-destruct.io/status']).toBe('injected');
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['app']);
    expect(sidecar?.volumeMounts).toEqual([
      {
        name: 'sidecar-destruct-token',
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        readOnly: true,
      },
    ]);
  });

  it('leaves an opted-out pod and a pod of an unlabelled namespace untouched', async () => {
    const optedOut = await expectStatus(
      cp.rest(
        'POST',
        '/api/v1/namespaces/home/pods',
        restrictedPod('plain', { 'sidecar-destruct.io/inject': 'false' }),
      ),
      201,
    );
    expect(sidecarOf(optedOut)).toBeUndefined();
    expect(optedOut.metadata.annotations?.['sidecar-destruct.io/status']).toBeUndefined();
    await createNamespace(cp, 'other');
    const elsewhere = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/other/pods', restrictedPod('plain')),
      201,
    );
    expect(sidecarOf(elsewhere)).toBeUndefined();
  });

  it('injects a single pod labelled inject=true in any namespace', async () => {
    const pod = await expectStatus(
      cp.rest(
        'POST',
        '/api/v1/namespaces/other/pods',
        restrictedPod('opted-in', { 'sidecar-destruct.io/inject': 'true' }),
      ),
      201,
    );
    expect(sidecarOf(pod)).toBeDefined();
  });

  it('refuses a pod with a bad annotation, naming it', async () => {
    const bad = restrictedPod('typo');
    bad.metadata = { name: 'typo', annotations: { 'sidecar-destruct.io/grace-period': 'soon' } };
    const reply = await cp.rest('POST', '/api/v1/namespaces/home/pods', bad);
    expect(reply.status).toBe(400);
    expect(reply.body.message).toContain('sidecar-destruct.io/grace-period: "soon" is not valid');
  });

  it('shows the mutation on a server-side dry run without creating anything', async () => {
    await createNamespace(cp, 'dry', { 'sidecar-destruct.io/injection': 'enabled' });
    await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/dry/serviceaccounts', { metadata: { name: 'radio' } }),
      201,
    );
    const pod = await expectStatus(
      cp.rest(
        'POST',
        '/api/v1/namespaces/dry/pods?dryRun=All',
        restrictedPod('try', {}, { serviceAccountName: 'radio' }),
      ),
      201,
    );
    expect(sidecarOf(pod)).toBeDefined();
    expect(
      (
        await cp.rest(
          'GET',
          '/apis/rbac.authorization.k8s.io/v1/namespaces/dry/rolebindings/sidecar-destruct:radio',
        )
      ).status,
    ).toBe(404);
    expect((await cp.rest('GET', '/api/v1/namespaces/dry/pods/try')).status).toBe(404);
  });
});

describe('a new sidecar image', () => {
  it('is injected and admitted as soon as sidecar-destruct-config names it, with no webhook restart', async () => {
    await createNamespace(cp, 'image-change', { 'sidecar-destruct.io/injection': 'enabled' });
    const configMap = `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps/sidecar-destruct-config`;
    const next = 'registry.example.com/sidecar-destruct/sidecar:0.2.0';
    const imageOf = (pod: V1Pod) =>
      [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
        (c) => c.name === SIDECAR_CONTAINER,
      )?.image;
    // Before: the image the webhook started with (this also makes the namespace's sidecar account, which a dry
    // run does not create).
    const before = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/image-change/pods', restrictedPod('before')),
      201,
    );
    expect(imageOf(before)).toBe(TEST_SIDECAR_IMAGE);
    try {
      await expectStatus(
        cp.rest('PATCH', configMap, { data: { sidecarImage: next } }, { contentType: MERGE_PATCH }),
        200,
      );
      // The webhook's watch and the API server's policy informer each see the change within moments: wait for
      // the webhook's (a server-side dry run runs the webhook and the policies, and creates nothing) ...
      let last = '';
      await until(
        () => `a dry run injected with the new image and admitted (last: ${last})`,
        async () => {
          const tried = await cp.rest(
            'POST',
            '/api/v1/namespaces/image-change/pods?dryRun=All',
            restrictedPod('probe'),
          );
          last = `${tried.status} ${tried.status === 201 ? imageOf(tried.body) : JSON.stringify(tried.body).slice(0, 300)}`;
          return tried.status === 201 && imageOf(tried.body) === next ? true : undefined;
        },
        30_000,
        50,
      );
      // ... then a real pod carries the new image and the policy admits it: nothing was refused in between
      // for want of a webhook restart.
      const created = await expectStatus(
        cp.rest('POST', '/api/v1/namespaces/image-change/pods', restrictedPod('after')),
        201,
      );
      expect(imageOf(created)).toBe(next);
    } finally {
      await expectStatus(
        cp.rest(
          'PATCH',
          configMap,
          { data: { sidecarImage: TEST_SIDECAR_IMAGE } },
          { contentType: MERGE_PATCH },
        ),
        200,
      );
    }
  });
});

describe('the webhook without its ConfigMap', () => {
  /** The webhook's /readyz status (what the Service's endpoints follow). */
  const readyz = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(new URL('/readyz', webhook.url), { ca: webhook.ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

  it('is not ready while sidecar-destruct-config names no image, and ready again once it does', async () => {
    const configMap = `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps/sidecar-destruct-config`;
    const setImage = (image: string | null) =>
      expectStatus(
        cp.rest('PATCH', configMap, { data: { sidecarImage: image } }, { contentType: MERGE_PATCH }),
        200,
      );
    const ready = (status: number, what: string) =>
      until(what, async () => ((await readyz()) === status ? true : undefined), 30_000, 50);
    expect(await readyz()).toBe(200);
    try {
      // The key gone, then an empty name: neither is an image.
      for (const image of [null, '']) {
        await setImage(image);
        await ready(503, `the webhook unready with sidecarImage ${JSON.stringify(image)}`);
        await setImage(TEST_SIDECAR_IMAGE);
        await ready(200, 'the webhook ready again');
      }
    } finally {
      await setImage(TEST_SIDECAR_IMAGE);
    }
  });
});

describe('deploy/examples', () => {
  it('are accepted by the API server, and every pod they make is injected', async () => {
    const files = (await readdir(`${DEPLOY_DIR}examples`)).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/home/serviceaccounts', { metadata: { name: 'off-peak-labeller' } }),
      201,
    );
    // off-peak.yaml names its own namespace, which its instructions create and label first.
    await createNamespace(cp, 'off-peak', { 'sidecar-destruct.io/injection': 'enabled' });
    for (const file of files) {
      const manifests = await readManifests(`examples/${file}`);
      const own = manifests.some((m) => m.metadata?.namespace);
      await cp.kubectl([
        'apply',
        '--dry-run=server',
        ...(own ? [] : ['-n', 'home']),
        '-f',
        `${DEPLOY_DIR}examples/${file}`,
      ]);
      for (const m of manifests) {
        const template =
          m.kind === 'Pod' ? m : m.kind === 'CronJob' ? m.spec.jobTemplate.spec.template : m.spec?.template;
        if (!template) continue;
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...template.metadata, name: `example-${m.metadata.name}` },
          spec: template.spec,
        };
        const reply = await cp.rest('POST', '/api/v1/namespaces/home/pods?dryRun=All', pod);
        expect(reply.status, `${file}: ${JSON.stringify(reply.body)}`).toBe(201);
        const constrained =
          template.spec.nodeSelector !== undefined ||
          template.metadata?.annotations?.['sidecar-destruct.io/selector'];
        // The labelling CronJobs run anywhere: nothing to enforce, so they are only marked as seen.
        if (constrained) expect(sidecarOf(reply.body), `${file} ${m.kind}/${m.metadata.name}`).toBeDefined();
        else expect(reply.body.metadata.annotations['sidecar-destruct.io/status']).toBe('nothing-to-enforce');
      }
    }
  });
});

describe('zero edits and least privilege', () => {
  it('creates the account and bindings on demand, and the sidecar acts with exactly them', async () => {
    await createNamespace(cp, 'fresh', { 'sidecar-destruct.io/injection': 'enabled' });
    const pod = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/fresh/pods', restrictedPod('radio', {}, { nodeName: 'pi-a' })),
      201,
    );
    await expectStatus(cp.rest('GET', '/api/v1/namespaces/fresh/serviceaccounts/sidecar-destruct'), 200);
    await expectStatus(
      cp.rest(
        'GET',
        '/apis/rbac.authorization.k8s.io/v1/namespaces/fresh/rolebindings/sidecar-destruct:sidecar-destruct',
      ),
      200,
    );
    await expectStatus(
      cp.rest(
        'GET',
        '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/sidecar-destruct:fresh:sidecar-destruct',
      ),
      200,
    );

    const sidecar = await kubelet.waitForSidecar(pod.metadata.uid);
    await sidecar.waitForLog((l) => l.msg === 'watching the node');

    // What else could this account do? Ask the API server as it, with a token bound to the pod.
    const token = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/fresh/serviceaccounts/sidecar-destruct/token', {
        spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'radio', uid: pod.metadata.uid } },
      }),
      201,
    );
    const as = { token: token.body?.status?.token ?? token.status.token };
    expect((await cp.rest('GET', '/api/v1/namespaces/fresh/pods', undefined, as)).status).toBe(403);
    expect((await cp.rest('GET', '/api/v1/namespaces/fresh/secrets', undefined, as)).status).toBe(403);
    expect((await cp.rest('GET', '/api/v1/nodes', undefined, as)).status).toBe(403);
    expect((await cp.rest('GET', '/api/v1/nodes/pi-a', undefined, as)).status).toBe(200);
    expect((await cp.rest('DELETE', '/api/v1/namespaces/other/pods/plain', undefined, as)).status).toBe(403);

    // A neighbour in the same namespace is out of reach: the admission policy checks the token's pod.
    const neighbour = await expectStatus(
      cp.rest('POST', '/api/v1/namespaces/fresh/pods', restrictedPod('neighbour')),
      201,
    );
    const refused = await cp.rest('DELETE', '/api/v1/namespaces/fresh/pods/neighbour', undefined, as);
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.message).toContain('only delete or evict the pod its token was issued for');
    const evict = await cp.rest(
      'POST',
      '/api/v1/namespaces/fresh/pods/neighbour/eviction',
      { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'neighbour', namespace: 'fresh' } },
      as,
    );
    expect(evict.status).toBe(403);
    expect((await cp.rest('GET', '/api/v1/namespaces/fresh/pods/neighbour')).body.metadata.uid).toBe(
      neighbour.metadata.uid,
    );

    // And its own pod, when the stick goes.
    await setNodeLabels(cp, 'pi-a', { [USB]: null });
    // The default grace period (10 s) first.
    await podGone(cp, 'fresh', 'radio', pod.metadata.uid, 25_000);
    // The Event is sent just before the delete, and may land after the pod is gone.
    await eventually(async () =>
      expect((await eventsOf(cp, 'fresh', pod.metadata.uid)).map((e) => e.reason)).toContain(
        'NodeConstraintLost',
      ),
    );
    await setNodeLabels(cp, 'pi-a', { [USB]: 'true' });
  });
});

describe('when the webhook is down', () => {
  it('pods that did not opt in never reach it, and opted-in pods are refused with a clear message', async () => {
    await webhook.stop();
    // A listener that accepts connections and never answers, on the webhook's port: a request sent to the
    // webhook now waits out its timeout, and is counted.
    const port = Number(new URL(webhook.url).port);
    const stalled: Socket[] = [];
    const blackHole = createServer((socket) => stalled.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(port, '127.0.0.1', resolve));
    try {
      const started = performance.now();
      await expectStatus(cp.rest('POST', '/api/v1/namespaces/other/pods', restrictedPod('while-down')), 201);
      const notOptedIn = performance.now() - started;
      expect(stalled, 'a pod that did not opt in was sent to the webhook').toHaveLength(0);
      // Well under the webhook's 5 s timeout: nothing was waited out.
      expect(notOptedIn).toBeLessThan(2_000);

      const refused = await cp.rest('POST', '/api/v1/namespaces/home/pods', restrictedPod('unprotected'));
      expect(stalled.length, 'the opted-in pod was sent to the webhook').toBeGreaterThan(0);
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
      expect(refused.body.message).toContain('the injector did not see it');
    } finally {
      for (const socket of stalled) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
      await webhook.start();
    }
  });
});

describe('certificate rotation', () => {
  it('admits every pod while the serving certificate is rotated under load', async () => {
    await createNamespace(cp, 'rotation', { 'sidecar-destruct.io/injection': 'enabled' });
    const statuses: number[] = [];
    const load = (async () => {
      for (let i = 0; i < 40; i++) {
        const reply = await cp.rest('POST', '/api/v1/namespaces/rotation/pods', restrictedPod(`p-${i}`));
        statuses.push(reply.status);
        if (reply.status === 201) expect(sidecarOf(reply.body)).toBeDefined();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await webhook.rotateCertificate();
    await load;
    expect(statuses).toEqual(Array(40).fill(201));
  });
});
