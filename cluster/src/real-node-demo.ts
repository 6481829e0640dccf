/**
 * `sidecar-destruct demo --real-node`: the story on real containers. A kubelet, containerd and runc on this
 * machine run the zigbee2mqtt example with the sidecar from the image images/build.sh makes; the second node is
 * the harness's stand-in. Root on Linux only (it says why not elsewhere); everything is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GRACE_PERIOD_ANNOTATION } from '@sidecar-destruct/core';
import { startControlPlane } from './controlplane.js';
import {
  applyExample,
  createInjectedNamespace,
  livePod,
  moveStick,
  narrator,
  USB_LABEL,
  untilDeleting,
} from './demo-steps.js';
import { Kubelet, SIDECAR_CONTAINER } from './kubelet.js';
import { registerNode } from './nodes.js';
import { buildRealNode, type RealNode, realNodeUnavailable, startRealNode } from './real-node.js';
import { MERGE_PATCH } from './rest.js';
import { until } from './until.js';
import { startWebhook, WEBHOOK_NAMESPACE } from './webhook.js';

export const REAL_NODE_DEMO_HELP = `
       sidecar-destruct demo --real-node

  --real-node        the story on real containers: kubelet, containerd and runc on this machine (built from the
                     Go module proxy on first use, about 11 minutes) run the sidecar from the image we ship;
                     needs root on Linux; the host is restored at the end
`;

const NFD_LABELS = {
  'feature.node.kubernetes.io/cpu-model.vendor_id': 'ARM',
  'feature.node.kubernetes.io/kernel-version.major': '6',
};
const NAMESPACE = 'home';
const REAL = 'pi-kitchen';
const STAND_IN = 'pi-garage';

export interface RealNodeDemoOptions {
  readonly write: (line: string) => void;
}

export async function runRealNodeDemo(options: RealNodeDemoOptions): Promise<{ reactionMs: number }> {
  const say = narrator(options.write);
  const unavailable = await realNodeUnavailable();
  if (unavailable) throw new Error(`--real-node cannot run here: ${unavailable}`);

  say('Building (or finding in the cache) kubelet, containerd, runc, the CNI plugins and the images');
  const build = await buildRealNode();
  say(
    `Images: ${build.shipped.sidecar.name} ${build.shipped.sidecar.digest.slice(0, 19)}…, ${build.shipped.webhook.name}`,
  );
  const token = randomBytes(24).toString('hex');
  const cp = await startControlPlane({
    scheduler: true,
    controllerManager: true,
    nodeAuthorization: true,
    tokens: [{ token, user: `system:node:${REAL}`, groups: ['system:nodes'] }],
  });
  let node: RealNode | undefined;
  let standIn: Kubelet | undefined;
  let webhook: Awaited<ReturnType<typeof startWebhook>> | undefined;
  try {
    webhook = await startWebhook(cp, [`--sidecar-image=${build.shipped.sidecar.name}`]);
    await cp.rest(
      'PATCH',
      `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps/sidecar-destruct-config`,
      { data: { sidecarImage: build.shipped.sidecar.name } },
      { contentType: MERGE_PATCH },
    );
    say(
      `Control plane at ${cp.server}; sidecar-destruct installed from deploy/base, webhook at ${webhook.url}`,
    );
    node = await startRealNode(cp, {
      name: REAL,
      token,
      build,
      labels: { ...NFD_LABELS, [USB_LABEL]: 'true' },
    });
    say(`Real node ${REAL} Ready: kubelet and containerd on this machine, node IP on lo, pods on a bridge`);
    await registerNode(cp, STAND_IN, { ...NFD_LABELS, 'kubernetes.io/arch': 'amd64' });
    standIn = new Kubelet(cp, new Set([STAND_IN]));
    standIn.start();
    say(`Second node ${STAND_IN}: the harness's stand-in kubelet. The stick (${USB_LABEL}) is on ${REAL}`);

    await createInjectedNamespace(cp, NAMESPACE);
    await applyExample(cp, NAMESPACE);
    say(
      `Applied deploy/examples/zigbee2mqtt.yaml in ${NAMESPACE} (Pod Security "restricted"), with ${GRACE_PERIOD_ANNOTATION}: 0s`,
    );

    // Real containers take seconds to start where the stand-in takes milliseconds: a longer wait, a gentler poll.
    const slow = { timeoutMs: 90_000, intervalMs: 100 };
    const first = await livePod(cp, NAMESPACE, REAL, { ...slow, ready: true });
    const name = first.metadata?.name ?? '';
    const sidecar = first.status?.initContainerStatuses?.find((s) => s.name === SIDECAR_CONTAINER);
    const id = sidecar?.containerID?.replace(/^containerd:\/\//, '') ?? '';
    const spec = JSON.parse(await node.ctr(['containers', 'info', id])).Spec;
    say(
      `Pod ${name} Running on ${REAL}: runc started the native sidecar first, then zigbee2mqtt (a stand-in image)`,
    );
    options.write(
      `           sidecar container ${id.slice(0, 12)}: uid ${spec.process.user.uid}, read-only root ${spec.root.readonly}, seccomp ${spec.linux.seccomp ? 'RuntimeDefault' : 'none'}, no capabilities`,
    );
    const peak = await node.containerPeakMemory(first.metadata?.uid ?? '', id);
    const request = [...(first.spec?.initContainers ?? []), ...(first.spec?.containers ?? [])].find(
      (c) => c.name === SIDECAR_CONTAINER,
    )?.resources?.requests?.memory;
    options.write(
      `           its cgroup's peak memory so far: ${((peak ?? 0) / 2 ** 20).toFixed(1)} MiB (request ${request})`,
    );

    say(`Unplugging the stick: removing ${USB_LABEL} from ${REAL}, adding it to ${STAND_IN}`);
    const unplugged = performance.now();
    await moveStick(cp, REAL, STAND_IN);
    await untilDeleting(cp, NAMESPACE, name);
    const reactionMs = performance.now() - unplugged;
    say(`Pod ${name} is being deleted: the sidecar in its container asked for it`);
    await until(
      'the pod object to go',
      async () =>
        (await cp.rest('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${name}`)).status === 404
          ? true
          : undefined,
      60_000,
      100,
    );
    const log = await readFile(node.containerdLog, 'utf8');
    const at = (text: string) =>
      Date.parse(/time="([^"]+)"/.exec(log.split('\n').find((l) => l.includes(text)) ?? '')?.[1] ?? '');
    const stopMs = at(`container_id:\\"${id}\\"`) - at(`Stop container \\"${id}\\" with signal terminated`);
    say(
      `The kubelet stopped zigbee2mqtt, then the sidecar: SIGTERM -> exit in ${stopMs} ms; the pod object is gone`,
    );
    const second = await livePod(cp, NAMESPACE, STAND_IN, { ...slow, not: first.metadata?.uid });
    say(`Replacement ${second.metadata?.name} scheduled on ${STAND_IN}, with its own sidecar`);
    options.write('');
    options.write(
      `Reaction on a real node: label removed -> pod deleting in ${reactionMs.toFixed(0)} ms; -> replacement in ${(performance.now() - unplugged).toFixed(0)} ms`,
    );
    return { reactionMs };
  } finally {
    say('Cleaning up: the stand-in, the webhook, the real node (host restored), the control plane');
    await standIn?.stop();
    await webhook?.stop();
    await node?.stop();
    await cp.stop();
  }
}
