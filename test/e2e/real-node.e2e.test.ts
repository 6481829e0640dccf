/**
 * The README's story on a real node: kubelet, containerd and runc on this machine run the injected sidecar in a
 * container, from the image images/build.sh makes (the one we ship), next to a second node played by the
 * harness's kubelet stand-in. Linux and root only; elsewhere the suite fails with the reason, unless
 * SIDECAR_DESTRUCT_REAL_NODE=0 says to skip it (CI never sets it).
 */

import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { V1Container, V1ContainerStatus, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import {
  buildRealNode,
  helmBinary,
  type RealNode,
  type RealNodeBuild,
  type RunningWebhook,
  startLocalRegistry,
  WEBHOOK_NAMESPACE,
} from '@sidecar-destruct/infra';
import { SIDECAR_RUNTIME } from '@sidecar-destruct/sidecar/main';
import {
  apply,
  type ControlPlane,
  DEPLOY_DIR,
  MERGE_PATCH,
  readManifests,
  registerNode,
  SIDECAR_CONTAINER,
  StandInKubelet,
  until,
} from '@sidecar-destruct/testkit';
import { SETTINGS } from '@sidecar-destruct/webhook/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  enabledNamespace,
  eventsOf,
  eventually,
  expectStatus,
  realNodeCluster,
  realNodeLeft,
  setNodeLabels,
  USB,
} from './fixtures.js';

const SKIP = process.env.SIDECAR_DESTRUCT_REAL_NODE === '0';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
const REAL = 'pi-kitchen';
const STAND_IN = 'pi-garage';
const NS = 'home';
// A node that node-feature-discovery labels carries many of its labels besides the device's; the sidecar reads
// "no NFD label at all" as an NFD outage rather than an unplugged stick.
const NFD_LABELS = {
  'feature.node.kubernetes.io/cpu-model.vendor_id': 'ARM',
  'feature.node.kubernetes.io/kernel-version.major': '6',
};

let build: RealNodeBuild;
let cp: ControlPlane;
let webhook: RunningWebhook;
let node: RealNode;
let standIn: StandInKubelet;
const figures: string[] = [];

function figure(text: string): void {
  figures.push(text);
  console.log(`[real-node] ${text}`);
}

async function ms<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await f();
  figure(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return value;
}

async function rssMiB(pid: number | undefined): Promise<string> {
  if (!pid) return '?';
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return `${(kb / 1024).toFixed(0)} MiB`;
}

beforeAll(async () => {
  if (SKIP) return;
  build = await ms('build (or cache) kubelet, containerd, runc, CNI, images', buildRealNode);
  const started = await ms(
    'control plane, webhook, kubelet and containerd, images imported, node Ready',
    () => realNodeCluster(REAL, build, { ...NFD_LABELS, [USB]: 'true' }),
  );
  ({ cp, webhook, node } = started);
  await registerNode(cp, STAND_IN, { ...NFD_LABELS, 'kubernetes.io/arch': 'amd64' });
  standIn = new StandInKubelet(cp, new Set([STAND_IN]));
  standIn.start();
  await enabledNamespace(cp, NS);
}, 1_800_000);

afterAll(async () => {
  if (SKIP) return;
  await standIn?.stop();
  await webhook?.stop();
  const pids = node?.pids() ?? {};
  if (node) {
    const shims = await Promise.all((pids.shims ?? []).map((pid) => rssMiB(pid)));
    figure(
      `RSS at the end: kubelet ${await rssMiB(pids.kubelet)}, containerd ${await rssMiB(pids.containerd)}, shims (one per pod) ${shims.join(', ')}`,
    );
    await node.stop();
  }
  await cp?.stop();
  const left = await realNodeLeft(node);
  if (left.length > 0) throw new Error(`the real node left state on the host:\n${left.join('\n')}`);
  console.log(`[real-node] figures:\n  ${figures.join('\n  ')}`);
}, 120_000);

async function livePods(): Promise<V1Pod[]> {
  const list = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${NS}/pods`), 200);
  return (list.items as V1Pod[]).filter((p) => !p.metadata?.deletionTimestamp);
}

function sidecarStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.initContainerStatuses?.find((s) => s.name === SIDECAR_CONTAINER);
}

function containerId(status: V1ContainerStatus | undefined): string {
  const id = status?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error('no container id yet');
  return id;
}

/** containerd's log lines (logfmt) that mention `text`, with their time in ms. */
async function containerdLines(text: string): Promise<Array<{ t: number; line: string }>> {
  const log = await readFile(node.containerdLog, 'utf8');
  return log
    .split('\n')
    .filter((l) => l.includes(text))
    .map((line) => ({ t: Date.parse(/time="([^"]+)"/.exec(line)?.[1] ?? ''), line }));
}

/** The namespace's events, one line each, for a failure's message. */
async function namespaceEvents(namespace = NS): Promise<string> {
  const list = await cp.rest('GET', `/api/v1/namespaces/${namespace}/events`);
  return (
    (list.body?.items ?? []) as Array<{ involvedObject: { name: string }; reason: string; message: string }>
  )
    .map((e) => `  ${e.involvedObject.name}: ${e.reason}: ${e.message}`)
    .join('\n');
}

let first: V1Pod;

async function setUnschedulable(name: string, unschedulable: boolean): Promise<void> {
  await expectStatus(
    cp.rest('PATCH', `/api/v1/nodes/${name}`, { spec: { unschedulable } }, { contentType: MERGE_PATCH }),
    200,
  );
}

describe.skipIf(SKIP)('a real node (kubelet, containerd, runc)', () => {
  it('runs the zigbee2mqtt example unmodified in a restricted namespace, the native sidecar started first', async () => {
    const [deployment] = await readManifests('examples/zigbee2mqtt.yaml');
    const created = performance.now();
    await apply(cp, [{ ...deployment, metadata: { ...deployment?.metadata, namespace: NS } }]);
    first = await eventually(async () => {
      const pods = await livePods();
      expect(pods.map((p) => p.spec?.nodeName)).toEqual([REAL]);
      const pod = pods[0] as V1Pod;
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      return pod;
    }, 60_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nevents in ${NS}:\n${await namespaceEvents()}`);
    });
    figure(`Deployment applied -> pod Ready on the real node: ${Math.round(performance.now() - created)} ms`);

    const sidecar = first.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER);
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.image).toBe(build.shipped.sidecar.name);
    expect(first.spec?.containers.map((c) => c.name)).toEqual(['zigbee2mqtt']);

    // The kubelet starts the app only once the native sidecar has started.
    const sidecarId = containerId(sidecarStatus(first));
    const appId = containerId(first.status?.containerStatuses?.[0]);
    const [sidecarStarted] = await containerdLines(
      `StartContainer for \\"${sidecarId}\\" returns successfully`,
    );
    const [appStarting] = await containerdLines(`StartContainer for \\"${appId}\\"`);
    expect(sidecarStarted?.t).toBeLessThanOrEqual(appStarting?.t ?? 0);
    expect(sidecarStarted?.line).toBeDefined();

    // What runc was told: uid 65532, read-only root, no capabilities, no new privileges, a seccomp filter.
    const spec = JSON.parse(await node.ctr(['containers', 'info', sidecarId])).Spec;
    expect(spec.process.user.uid).toBe(65532);
    expect(spec.process.user.gid).toBe(65532);
    expect(spec.root.readonly).toBe(true);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.process.capabilities?.effective ?? []).toEqual([]);
    expect(spec.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(spec.process.env).toContain('KUBERNETES_SERVICE_HOST=10.96.0.1');
    // The image's own entrypoint (the webhook sets no command): Bun, as the harness and the benchmarks run it.
    expect(spec.process.args).toEqual(['/usr/local/bin/bun', ...SIDECAR_RUNTIME.flags, '/app/sidecar.cjs']);
    for (const [name, value] of Object.entries(SIDECAR_RUNTIME.env))
      expect(spec.process.env).toContain(`${name}=${value}`);
    // And what the kernel says of the running process.
    const task = (await node.ctr(['tasks', 'ls']))
      .split('\n')
      .find((l) => l.startsWith(sidecarId))
      ?.split(/\s+/);
    const status = await readFile(`/proc/${task?.[1]}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('65532');
    // Its resident memory: the anonymous part is its own; the file part (the runtime binary's pages) is shared by
    // every sidecar of the node, and is charged to the first one's cgroup only when the page cache is cold.
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    figure(
      `sidecar process RSS: ${(kib('RssAnon') / 1024).toFixed(1)} MiB anonymous + ${(kib('RssFile') / 1024).toFixed(1)} MiB file-backed (the most a cold page cache adds to the first sidecar's cgroup)`,
    );
    expect(/^Seccomp:\s+(\d+)/m.exec(status)?.[1]).toBe('2');
    expect(/^NoNewPrivs:\s+(\d+)/m.exec(status)?.[1]).toBe('1');
    // The pod's network: routes to the node IP and the Service IP only, nothing else leaves the bridge.
    const routes = (await run('nsenter', ['-t', String(task?.[1]), '-n', 'ip', '-4', 'route'])).stdout;
    expect(routes).not.toMatch(/^default/m);
    expect(routes).toMatch(/^10\.96\.0\.1 via 10\.88\.77\.1/m);
    expect(routes).toMatch(/^10\.254\.254\.1 via 10\.88\.77\.1/m);

    // It read its projected token and watches its node through the Service address.
    const logDir = join(node.dir, 'pod-logs', `${NS}_${first.metadata?.name}_${first.metadata?.uid}`);
    const watching = await eventually(async () => {
      const log = await readFile(join(logDir, SIDECAR_CONTAINER, '0.log'), 'utf8');
      const line = log.split('\n').find((l) => l.includes('"watching the node"'));
      expect(line).toBeDefined();
      return JSON.parse(line?.slice(line.indexOf('{')) ?? '{}') as { startupMs?: number };
    }, 15_000);
    // Under its CPU limit (a CFS quota per 100 ms period) Node starts slower than as a host process.
    figure(
      `sidecar start -> watching, in its container (CPU limit ${SETTINGS.cpuLimit.default}): ${watching.startupMs} ms`,
    );
  });

  it("keeps the sidecar's peak memory (its container cgroup) under its request, at the injected defaults", async () => {
    const id = containerId(sidecarStatus(first));
    const peak = await node.containerPeakMemory(first.metadata?.uid ?? '', id);
    expect(peak).toBeDefined();
    const request = first.spec?.initContainers?.find((c) => c.name === SIDECAR_CONTAINER)?.resources?.requests
      ?.memory;
    figure(
      `sidecar container peak memory (cgroup): ${((peak ?? 0) / 2 ** 20).toFixed(1)} MiB, request ${request}`,
    );
    expect(request).toBe(SETTINGS.memoryRequest.default);
    expect(peak).toBeLessThan(Number(/^(\d+)Mi$/.exec(SETTINGS.memoryRequest.default)?.[1]) * 2 ** 20);
  });

  it('deletes its pod when the label goes; the sidecar exits 0 on SIGTERM within 1 s; the replacement lands on the other node', async () => {
    const uid = first.metadata?.uid ?? '';
    const name = first.metadata?.name ?? '';
    const sidecarId = containerId(sidecarStatus(first));
    const unplugged = performance.now();
    await setNodeLabels(cp, REAL, { [USB]: null });
    await setNodeLabels(cp, STAND_IN, { [USB]: 'true' });

    let exitCode: number | undefined;
    let deleting: number | undefined;
    let gone: number | undefined;
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      const got = await cp.rest('GET', `/api/v1/namespaces/${NS}/pods/${name}`);
      if (got.status === 404 || got.body?.metadata?.uid !== uid) {
        gone = performance.now();
        break;
      }
      const pod = got.body as V1Pod;
      if (pod.metadata?.deletionTimestamp && deleting === undefined) deleting = performance.now();
      exitCode = sidecarStatus(pod)?.state?.terminated?.exitCode ?? exitCode;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(deleting, 'the pod was never marked for deletion').toBeDefined();
    expect(gone, 'the pod object is still there').toBeDefined();
    figure(
      `label removed -> pod deleting ${Math.round((deleting ?? 0) - unplugged)} ms -> pod object gone ${Math.round((gone ?? 0) - unplugged)} ms`,
    );
    // The Event is sent just before the delete, and may land after the pod is gone.
    await eventually(async () =>
      expect((await eventsOf(cp, NS, uid)).map((e) => e.reason)).toContain('NodeConstraintLost'),
    );

    // containerd's log: when it sent SIGTERM to the sidecar's task, and when the task exited, with what status.
    // (The kubelet stops the app container first and the native sidecar after it.)
    const [signalled] = await containerdLines(`Stop container \\"${sidecarId}\\" with signal terminated`);
    const [exited] = await containerdLines(`container_id:\\"${sidecarId}\\"`).then((l) =>
      // "received container exit event …": exit_status is left out when it is 0 (protobuf text format).
      l.filter((x) => x.line.includes('exit event')),
    );
    expect(signalled, 'containerd never sent SIGTERM to the sidecar').toBeDefined();
    expect(exited, 'no exit event for the sidecar').toBeDefined();
    const status = Number(/exit_status:(\d+)/.exec(exited?.line ?? '')?.[1] ?? 0);
    const stopMs = (exited?.t ?? 0) - (signalled?.t ?? 0);
    figure(
      `sidecar SIGTERM -> exit: ${stopMs} ms, exit status ${status} (pod status said ${exitCode ?? 'nothing'})`,
    );
    expect(status).toBe(0);
    if (exitCode !== undefined) expect(exitCode).toBe(0);
    expect(stopMs).toBeLessThan(1_000);

    const second = await eventually(async () => {
      const pods = await livePods();
      expect(pods.map((p) => p.spec?.nodeName)).toEqual([STAND_IN]);
      return pods[0] as V1Pod;
    }, 30_000);
    expect(second.metadata?.uid).not.toBe(uid);
    figure(`label removed -> replacement on ${STAND_IN}: ${Math.round(performance.now() - unplugged)} ms`);
  });

  it('completes a Job whose pod carries the injected native sidecar', async () => {
    await setNodeLabels(cp, REAL, { [USB]: 'true' });
    await setNodeLabels(cp, STAND_IN, { [USB]: null });
    const [example] = await readManifests('examples/job.yaml');
    const template = example?.spec.template;
    // The example's busybox cannot be pulled here: the container runs Node from the webhook image instead.
    const container = {
      ...template.spec.containers[0],
      image: build.shipped.webhook.name,
      command: ['/usr/local/bin/node', '-e', 'console.log("flashing"); setTimeout(() => {}, 2000)'],
    };
    await apply(cp, [
      {
        ...example,
        metadata: { ...example?.metadata, namespace: NS },
        spec: {
          ...example?.spec,
          template: { ...template, spec: { ...template.spec, containers: [container] } },
        },
      },
    ]);
    const started = performance.now();
    const job = await eventually(async () => {
      const got = await expectStatus(
        cp.rest('GET', `/apis/batch/v1/namespaces/${NS}/jobs/flash-firmware`),
        200,
      );
      expect(got.status?.succeeded).toBe(1);
      return got;
    }, 90_000);
    figure(`Job with the native sidecar: complete in ${Math.round(performance.now() - started)} ms`);
    expect(job.status?.failed ?? 0).toBe(0);
    const pods = await expectStatus(
      cp.rest('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=job-name=flash-firmware`),
      200,
    );
    const pod = pods.items[0] as V1Pod;
    expect(pod.spec?.nodeName).toBe(REAL);
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual([SIDECAR_CONTAINER]);
    expect(pod.status?.phase).toBe('Succeeded');
  });

  it('builds the sidecar image with the same digest twice, from scratch', async () => {
    // From one copy of the bundle: the work tree's may be rebuilt meanwhile.
    const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-images-'));
    try {
      const bundle = join(dir, 'sidecar.cjs');
      await copyFile(join(ROOT, 'sidecar/dist/sidecar.cjs'), bundle);
      const digests: string[] = [];
      for (const out of ['a', 'b']) {
        const { stdout } = await run('bash', [join(ROOT, 'images/build.sh')], {
          cwd: ROOT,
          env: { ...process.env, OUT: join(dir, out), IMAGES: 'sidecar', SIDECAR_BUNDLE: bundle },
        });
        const [name, digest] = stdout.trim().split(' ');
        expect(name).toBe(build.shipped.sidecar.name);
        digests.push(digest ?? '');
      }
      expect(digests[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(digests[1]).toBe(digests[0]);
      figure(`sidecar image ${digests[0]}: built twice from scratch, same digest`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pushes the images to a registry as the README says, and containerd pulls the same digest from it', async () => {
    // A registry on a loopback port (go-containerregistry's cmd/registry): the push route, never leaving here.
    const registry = await startLocalRegistry();
    const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-push-'));
    try {
      const { stdout } = await run('bash', [join(ROOT, 'images/build.sh')], {
        cwd: ROOT,
        env: { ...process.env, OUT: dir, IMAGES: 'sidecar', REGISTRY: `${registry.host}/you`, PUSH: '1' },
      });
      const [name, digest] = stdout.trim().split(' ');
      expect(name).toBe(`${registry.host}/you/sidecar:${build.shipped.sidecar.name.split(':').at(-1)}`);
      await node.ctr(['images', 'pull', '--plain-http', name ?? '']);
      const listed = await node.ctr(['images', 'ls', '--quiet']);
      expect(listed).toContain(name);
      const info = (await node.ctr(['images', 'ls'])).split('\n').find((l) => l.startsWith(name ?? ''));
      expect(info).toContain(digest);
      figure(`pushed ${name} (${digest?.slice(0, 19)}…) and containerd pulled the same digest`);
    } finally {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const INSTALLED = 'installed';
const HELM_INSTALLED = 'installed-by-helm';

/** The certificate Job ran (the TLS Secret and the webhook's caBundle are there) and deleted itself once done. */
/**
 * The certificate Job ran to completion for the `run`th time in this namespace, from `image` (its Events say so:
 * they outlive the Job), made the TLS Secret and the webhook's caBundle, and deleted itself once done.
 */
async function certificatesMade(since: number, when: string, run: number, image: string): Promise<void> {
  const events = async (selector: string) =>
    (
      await expectStatus(
        cp.rest('GET', `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/events?fieldSelector=${selector}`),
        200,
      )
    ).items as Array<{ involvedObject: { uid: string; name: string }; message?: string }>;
  await eventually(async () => {
    const completed = await events(
      'involvedObject.kind=Job,involvedObject.name=sidecar-destruct-certs,reason=Completed',
    );
    expect(new Set(completed.map((e) => e.involvedObject.uid)).size).toBe(run);
    const pulled = await events('involvedObject.kind=Pod,reason=Pulled');
    expect(
      pulled.some(
        (e) =>
          /^sidecar-destruct-certs-[a-z0-9]+$/.test(e.involvedObject.name) &&
          e.message?.includes(`"${image}"`),
      ),
    ).toBe(true);
    const job = await cp.rest(
      'GET',
      `/apis/batch/v1/namespaces/${WEBHOOK_NAMESPACE}/jobs/sidecar-destruct-certs`,
    );
    expect(job.status).toBe(404);
    await expectStatus(
      cp.rest('GET', `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/secrets/sidecar-destruct-webhook-tls`),
      200,
    );
    const configuration = await expectStatus(
      cp.rest('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sidecar-destruct'),
      200,
    );
    expect(configuration.webhooks?.[0]?.clientConfig?.caBundle).toBeTruthy();
  }, 90_000);
  figure(`${when}: certificate Job done and gone ${Math.round(performance.now() - since)} ms after apply`);
}
const MANAGED = 'app.kubernetes.io/managed-by=sidecar-destruct-webhook';
/** The tag an upgrade moves both images to: the same files, tagged anew in the node's containerd. */
const UPGRADE_TAG = '0.1.1-upgrade';
const upgraded = (image: string) => image.replace(/:[^:/]+$/, `:${UPGRADE_TAG}`);
async function tagUpgradeImages(): Promise<void> {
  for (const image of [build.shipped.webhook.name, build.shipped.sidecar.name]) {
    await node.ctr(['images', 'tag', '--force', image, upgraded(image)]);
  }
}

/** The webhook Deployment runs `image` on all its replicas, every one of them Ready. */
async function webhookRunning(image: string, since: number, when: string): Promise<void> {
  const d = await eventually(async () => {
    const d = await expectStatus(
      cp.rest('GET', `/apis/apps/v1/namespaces/${WEBHOOK_NAMESPACE}/deployments/sidecar-destruct-webhook`),
      200,
    );
    expect(d.spec?.template?.spec?.containers?.[0]?.image).toBe(image);
    expect(d.status?.updatedReplicas).toBe(d.spec?.replicas);
    expect(d.status?.readyReplicas).toBe(d.spec?.replicas);
    expect(d.status?.replicas).toBe(d.spec?.replicas);
    return d;
  }, 120_000);
  figure(
    `${when}: ${d.spec?.replicas} webhook replicas Ready ${Math.round(performance.now() - since)} ms after it`,
  );
}

/** A pod of the zigbee2mqtt example's template, created now: injected with `sidecarImage`, admitted, Ready. */
async function injectedPod(namespace: string, name: string, sidecarImage: string): Promise<V1Pod> {
  const [example] = await readManifests('examples/zigbee2mqtt.yaml');
  if (!example) throw new Error('deploy/examples/zigbee2mqtt.yaml is empty');
  const template = (example.spec as { template: V1PodTemplateSpec }).template;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...template.metadata, name },
    spec: template.spec,
  };
  // Right after an install the API server may not see the policy's parameter (sidecar-destruct-config) yet, and
  // refuses opted-in pods with "no params found" for a moment, which a controller retries: so does this, and only
  // that refusal.
  let refusals = 0;
  const created = await until(
    () => `${namespace}/${name} admitted (refused ${refusals} times for want of the policy's parameter)`,
    async () => {
      const reply = await cp.rest('POST', `/api/v1/namespaces/${namespace}/pods`, pod);
      if (reply.status === 201) return reply.body;
      if (reply.status === 422 && JSON.stringify(reply.body).includes('no params found')) {
        refusals += 1;
        return undefined;
      }
      throw new Error(`creating ${namespace}/${name}: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
    },
    60_000,
    200,
  );
  if (refusals > 0)
    figure(`${namespace}/${name}: refused ${refusals} times until the policy saw its parameter`);
  expect(created.spec?.initContainers?.find((c: V1Container) => c.name === SIDECAR_CONTAINER)?.image).toBe(
    sidecarImage,
  );
  return eventually(async () => {
    const pod = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${namespace}/pods/${name}`), 200);
    expect(pod.status?.conditions?.find((c: { type: string }) => c.type === 'Ready')?.status).toBe('True');
    return pod as V1Pod;
  }, 60_000);
}

/** The README's clean-up of what the webhook made; then nothing of sidecar-destruct is left. */
async function cleanedUp(): Promise<void> {
  await cp.kubectl(['delete', 'rolebinding,serviceaccount', '-A', '-l', MANAGED]);
  await cp.kubectl(['delete', 'clusterrolebinding', '-l', MANAGED]);
  await eventually(async () => {
    const left = await cp.kubectl([
      'get',
      'namespace,clusterrole,clusterrolebinding,mutatingwebhookconfiguration,validatingadmissionpolicy,validatingadmissionpolicybinding',
      '-o',
      'name',
    ]);
    expect(left.split('\n').filter((n) => n.includes('sidecar-destruct'))).toEqual([]);
    expect(await cp.kubectl(['get', 'rolebinding,serviceaccount', '-A', '-l', MANAGED, '-o', 'name'])).toBe(
      '',
    );
  }, 60_000);
}

describe.skipIf(SKIP)('installing from deploy/ as the README says, on the real node', () => {
  it('runs the certificate Job and the webhook Deployment, injects through the in-cluster webhook, and uninstalls without leftovers', async () => {
    // From here on the webhook runs in the cluster, from the shipped image: the local process goes.
    await webhook.stop();
    const [configuration] = await readManifests('base/mutatingwebhook.yaml');
    await expectStatus(
      cp.rest(
        'DELETE',
        `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${configuration?.metadata.name}`,
      ),
      200,
    );
    // One real node: the stand-in could not run a Job or serve the webhook, so nothing goes there.
    await setUnschedulable(STAND_IN, true);
    const started = performance.now();
    await cp.kubectl(['apply', '-k', DEPLOY_DIR]);

    await certificatesMade(started, 'install', 1, build.shipped.webhook.name);
    const deployment = await eventually(async () => {
      const d = await expectStatus(
        cp.rest('GET', `/apis/apps/v1/namespaces/${WEBHOOK_NAMESPACE}/deployments/sidecar-destruct-webhook`),
        200,
      );
      expect(d.status?.readyReplicas).toBe(d.spec?.replicas);
      return d;
    }, 90_000);
    figure(
      `install: ${deployment.spec?.replicas} webhook replicas Ready on ${REAL} ${Math.round(performance.now() - started)} ms after apply`,
    );
    // The anti-affinity is preferred: with one schedulable node both replicas share it, and the
    // PodDisruptionBudget (minAvailable 1) lets a drain take them one at a time.
    const webhookPods = await expectStatus(
      cp.rest(
        'GET',
        `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/pods?labelSelector=app.kubernetes.io/component=webhook`,
      ),
      200,
    );
    for (const pod of webhookPods.items as V1Pod[]) {
      expect(pod.spec?.nodeName).toBe(REAL);
      const id = containerId(pod.status?.containerStatuses?.[0]);
      const peak = await node.containerPeakMemory(pod.metadata?.uid ?? '', id);
      figure(
        `webhook container ${pod.metadata?.name}: peak memory ${((peak ?? 0) / 2 ** 20).toFixed(1)} MiB`,
      );
    }

    // An opted-in pod, injected by the in-cluster webhook (the API server dials the Service's endpoint on the
    // bridge: --enable-aggregator-routing).
    await enabledNamespace(cp, INSTALLED);
    const [example] = await readManifests('examples/zigbee2mqtt.yaml');
    await apply(cp, [{ ...example, metadata: { ...example?.metadata, namespace: INSTALLED } }]);
    const injected = await eventually(async () => {
      const list = await expectStatus(cp.rest('GET', `/api/v1/namespaces/${INSTALLED}/pods`), 200);
      const pod = list.items[0] as V1Pod;
      expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      return pod;
    }, 60_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nevents:\n${await namespaceEvents(INSTALLED)}`);
    });
    expect(injected.spec?.nodeName).toBe(REAL);
    expect(injected.spec?.initContainers?.map((c) => c.name)).toEqual([SIDECAR_CONTAINER]);
    expect(injected.metadata?.annotations?.['sidecar-destruct.io/status']).toBe('injected');

    // Upgrade: new webhook and sidecar images applied over the install. The certificate Job is created afresh (it
    // deleted itself), the webhook rolls out, the new image is injected and admitted at once, and the pod already
    // running is left alone.
    await tagUpgradeImages();
    const overlay = await mkdtemp(join(tmpdir(), 'sidecar-destruct-upgrade-'));
    try {
      await writeFile(
        join(overlay, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          `resources: [${relative(overlay, DEPLOY_DIR)}]`,
          'images:',
          `  - { name: ${build.shipped.webhook.name.replace(/:[^:/]+$/, '')}, newTag: ${UPGRADE_TAG} }`,
          'patches:',
          '  - target: { kind: ConfigMap, name: sidecar-destruct-config }',
          `    patch: '[{"op": "replace", "path": "/data/sidecarImage", "value": "${upgraded(build.shipped.sidecar.name)}"}]'`,
          '',
        ].join('\n'),
      );
      const upgradeStarted = performance.now();
      await cp.kubectl(['apply', '-k', overlay]);
      await certificatesMade(upgradeStarted, 'upgrade', 2, upgraded(build.shipped.webhook.name));
      await webhookRunning(upgraded(build.shipped.webhook.name), upgradeStarted, 'upgrade');
    } finally {
      await rm(overlay, { recursive: true, force: true });
    }
    await injectedPod(INSTALLED, 'after-upgrade', upgraded(build.shipped.sidecar.name));
    const still = await expectStatus(
      cp.rest('GET', `/api/v1/namespaces/${INSTALLED}/pods/${injected.metadata?.name}`),
      200,
    );
    expect(still.metadata?.uid).toBe(injected.metadata?.uid);
    expect(still.metadata?.deletionTimestamp).toBeUndefined();

    // Uninstall as the README says; nothing of sidecar-destruct may remain.
    await cp.kubectl(['delete', '-k', DEPLOY_DIR, '--ignore-not-found', '--wait=true', '--timeout=90s']);
    await cleanedUp();
    await setUnschedulable(STAND_IN, false);
  });
});

describe.skipIf(SKIP)('installing with Helm as the README says, on the real node', () => {
  it('installs the chart, upgrades it to new images, and uninstalls it without leftovers', async () => {
    const helm = await helmBinary(4);
    const chart = join(DEPLOY_DIR, 'helm/sidecar-destruct');
    const release = (args: readonly string[]) =>
      run(helm, [...args, '--namespace', WEBHOOK_NAMESPACE, '--kubeconfig', cp.kubeconfig]);
    await setUnschedulable(STAND_IN, true);
    // deploy/ was installed and deleted on this API server just before: on 1.34 its admission policy, made again in
    // one batch with its ConfigMap, then finds no parameter until the API server restarts (kubernetes/kubernetes
    // #133827; the README's known limits). A restart gives the chart the API server a first install meets.
    await cp.stopApiServer();
    await cp.startApiServer();
    const started = performance.now();
    await release(['install', 'sidecar-destruct', chart, '--create-namespace']);
    await cp.kubectl([
      'label',
      'namespace',
      WEBHOOK_NAMESPACE,
      'pod-security.kubernetes.io/enforce=restricted',
    ]);
    await certificatesMade(started, 'helm install', 1, build.shipped.webhook.name);
    await webhookRunning(build.shipped.webhook.name, started, 'helm install');
    await enabledNamespace(cp, HELM_INSTALLED);
    const before = await injectedPod(HELM_INSTALLED, 'before-upgrade', build.shipped.sidecar.name);

    await tagUpgradeImages();
    const upgradeStarted = performance.now();
    await release([
      ...['upgrade', 'sidecar-destruct', chart],
      ...['--set', `webhook.image.tag=${UPGRADE_TAG}`, '--set', `sidecar.image.tag=${UPGRADE_TAG}`],
    ]);
    await certificatesMade(upgradeStarted, 'helm upgrade', 2, upgraded(build.shipped.webhook.name));
    await webhookRunning(upgraded(build.shipped.webhook.name), upgradeStarted, 'helm upgrade');
    await injectedPod(HELM_INSTALLED, 'after-upgrade', upgraded(build.shipped.sidecar.name));
    const still = await expectStatus(
      cp.rest('GET', `/api/v1/namespaces/${HELM_INSTALLED}/pods/before-upgrade`),
      200,
    );
    expect(still.metadata?.uid).toBe(before.metadata?.uid);
    expect(still.metadata?.deletionTimestamp).toBeUndefined();

    await release(['uninstall', 'sidecar-destruct', '--wait']);
    await cp.kubectl(['delete', 'namespace', WEBHOOK_NAMESPACE, '--wait=true', '--timeout=90s']);
    await cleanedUp();
    await setUnschedulable(STAND_IN, false);
  });
});
