/**
 * `npm run demo -- --real-node`: the story on real containers, labelled by a real node-feature-discovery.
 * A kubelet, containerd and runc on this machine run the zigbee2mqtt example with the sidecar from the image
 * images/build.sh makes; NFD (built from the Go module proxy, deployed from its own manifests with deploy/nfd)
 * labels that node, and the stick comes and goes through the udev rules and helper of `sidecar-destruct udev
 * --nfd`, run as udevd runs them. The second node is the harness's stand-in: no NFD runs there, so the demo
 * labels it directly. Root on Linux only (it says why not elsewhere); everything is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GRACE_PERIOD_ANNOTATION } from '@sidecar-destruct/core';
import {
  buildNfd,
  buildRealNode,
  deployNfd,
  type NfdHost,
  nfdKustomization,
  nfdLabels,
  prepareNfdHost,
  type RealNode,
  type RealNodeBuild,
  realNodeUnavailable,
  startRealNode,
  startWebhook,
  udevEvent,
  WEBHOOK_NAMESPACE,
  ZIGBEE_STICK,
} from '@sidecar-destruct/infra';
import {
  MERGE_PATCH,
  registerNode,
  SIDECAR_CONTAINER,
  StandInKubelet,
  setNodeLabels,
  startControlPlane,
  USB_LABEL,
  until,
} from '@sidecar-destruct/testkit';
import { deviceRules, NFD_HELPER } from '@sidecar-destruct/udev';
import {
  applyExample,
  type BaseStage,
  createInjectedNamespace,
  livePod,
  narrator,
  untilDeleting,
} from './demo-steps.js';

const NAMESPACE = 'home';
const REAL = 'pi-kitchen';
const STAND_IN = 'pi-garage';
/** The udev rule names its feature after the label NFD's usb source gives this stick, so the example runs as is. */
const FEATURE = USB_LABEL.slice('feature.node.kubernetes.io/'.length);

export interface RealNodeDemoOptions {
  readonly write: (line: string) => void;
}

interface Stage extends BaseStage {
  node?: RealNode;
  host?: NfdHost;
}

/** The stick's udev event on pi-kitchen, through the rules' NFD helper (the /dev link is left alone). */
function udev(action: 'add' | 'remove'): Promise<number> {
  const { vendor, product } = ZIGBEE_STICK;
  const rules = deviceRules({ vendor, product, name: FEATURE, nfd: true });
  if (!rules.ok) throw new Error(rules.error.join('; '));
  return udevEvent(rules.value, action, ZIGBEE_STICK, (program) => program === NFD_HELPER);
}

async function installAddOn(stage: Stage, build: RealNodeBuild): Promise<void> {
  const { cp } = stage;
  stage.webhook = await startWebhook(cp, [`--sidecar-image=${build.shipped.sidecar.name}`]);
  await cp.rest(
    'PATCH',
    `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/configmaps/sidecar-destruct-config`,
    { data: { sidecarImage: build.shipped.sidecar.name } },
    { contentType: MERGE_PATCH },
  );
  stage.say(
    `Control plane at ${cp.server}; sidecar-destruct installed from deploy/base, webhook at ${stage.webhook.url}`,
  );
}

async function startNodes(stage: Stage, build: RealNodeBuild, token: string): Promise<void> {
  const { cp, say } = stage;
  const nfd = await buildNfd();
  stage.host = await prepareNfdHost();
  stage.node = await startRealNode(cp, {
    name: REAL,
    token,
    build: { ...build, images: [...build.images, nfd.archive] },
  });
  say(`Real node ${REAL} Ready: kubelet and containerd on this machine, node IP on lo, pods on a bridge`);
  await deployNfd(cp, await nfdKustomization(nfd, stage.host.fakeSysfs), REAL);
  const labels = Object.keys(await nfdLabels(cp, REAL));
  say(
    `node-feature-discovery ${nfd.version} (its own kustomize overlay + deploy/nfd) labelled ${REAL}: ${labels.length} labels, e.g. ${labels[0]}`,
  );
  const plugged = performance.now();
  await udev('add');
  await until(
    `${USB_LABEL} on ${REAL}`,
    async () => ((await nfdLabels(cp, REAL))[USB_LABEL] ? true : undefined),
    10_000,
    20,
  );
  say(
    `Stick plugged into ${REAL}: udev ran ${NFD_HELPER} add ${FEATURE}; NFD labelled the node in ${Math.round(performance.now() - plugged)} ms`,
  );
  // The stand-in looks like a node NFD labels, less the stick.
  const { [USB_LABEL]: _stick, ...features } = await nfdLabels(cp, REAL);
  await registerNode(cp, STAND_IN, { ...features, 'kubernetes.io/arch': 'amd64' });
  stage.standIn = new StandInKubelet(cp, new Set([STAND_IN]));
  stage.standIn.start();
  say(
    `Second node ${STAND_IN}: the harness's stand-in kubelet, with no NFD running: the demo labels it directly`,
  );
}

/** The pod on the real node, Ready, and what runc was told for its sidecar. */
async function showPod(stage: Stage): Promise<{ name: string; uid: string; id: string }> {
  const { cp, say, write } = stage;
  const node = stage.node as RealNode;
  const first = await livePod(cp, NAMESPACE, REAL, { ...SLOW, ready: true });
  const name = first.metadata?.name ?? '';
  const sidecar = first.status?.initContainerStatuses?.find((s) => s.name === SIDECAR_CONTAINER);
  const id = sidecar?.containerID?.replace(/^containerd:\/\//, '') ?? '';
  const spec = JSON.parse(await node.ctr(['containers', 'info', id])).Spec;
  say(
    `Pod ${name} Running on ${REAL}: runc started the native sidecar first, then zigbee2mqtt (a stand-in image)`,
  );
  write(
    `           sidecar container ${id.slice(0, 12)}: uid ${spec.process.user.uid}, read-only root ${spec.root.readonly}, seccomp ${spec.linux.seccomp ? 'RuntimeDefault' : 'none'}, no capabilities`,
  );
  const peak = await node.containerPeakMemory(first.metadata?.uid ?? '', id);
  const request = [...(first.spec?.initContainers ?? []), ...(first.spec?.containers ?? [])].find(
    (c) => c.name === SIDECAR_CONTAINER,
  )?.resources?.requests?.memory;
  write(
    `           its cgroup's peak memory so far: ${((peak ?? 0) / 2 ** 20).toFixed(1)} MiB (request ${request})`,
  );
  return { name, uid: first.metadata?.uid ?? '', id };
}

/** Real containers take seconds to start where the stand-in takes milliseconds: a longer wait, a gentler poll. */
const SLOW = { timeoutMs: 90_000, intervalMs: 100 };

async function unplug(stage: Stage, pod: { name: string; uid: string; id: string }): Promise<number> {
  const { cp, say, write } = stage;
  say(
    `Unplugging the stick from ${REAL}: udev runs ${NFD_HELPER} remove ${FEATURE}; it goes into ${STAND_IN}`,
  );
  const unplugged = performance.now();
  await Promise.all([udev('remove'), setNodeLabels(cp, STAND_IN, { [USB_LABEL]: 'true' })]);
  await untilDeleting(cp, NAMESPACE, pod.name);
  const reactionMs = performance.now() - unplugged;
  say(
    `NFD took the label off ${REAL}; pod ${pod.name} is being deleted: the sidecar in its container asked for it`,
  );
  await until(
    'the pod object to go',
    async () =>
      (await cp.rest('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${pod.name}`)).status === 404
        ? true
        : undefined,
    60_000,
    100,
  );
  const log = await readFile((stage.node as RealNode).containerdLog, 'utf8');
  const at = (text: string) =>
    Date.parse(/time="([^"]+)"/.exec(log.split('\n').find((l) => l.includes(text)) ?? '')?.[1] ?? '');
  const stopMs =
    at(`container_id:\\"${pod.id}\\"`) - at(`Stop container \\"${pod.id}\\" with signal terminated`);
  say(
    `The kubelet stopped zigbee2mqtt, then the sidecar: SIGTERM -> exit in ${stopMs} ms; the pod object is gone`,
  );
  const second = await livePod(cp, NAMESPACE, STAND_IN, { ...SLOW, not: pod.uid });
  say(`Replacement ${second.metadata?.name} scheduled on ${STAND_IN}, with its own sidecar`);
  write('');
  write(
    `Reaction on a real node: udev event -> NFD label gone -> pod deleting in ${reactionMs.toFixed(0)} ms; -> replacement in ${(performance.now() - unplugged).toFixed(0)} ms`,
  );
  return reactionMs;
}

export async function runRealNodeDemo(options: RealNodeDemoOptions): Promise<{ reactionMs: number }> {
  const say = narrator(options.write);
  const unavailable = await realNodeUnavailable();
  if (unavailable) throw new Error(`--real-node cannot run here: ${unavailable}`);

  say('Building (or finding in the cache) kubelet, containerd, runc, the CNI plugins, the images and NFD');
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
  const stage: Stage = { cp, say, write: options.write };
  try {
    await installAddOn(stage, build);
    await startNodes(stage, build, token);
    await createInjectedNamespace(cp, NAMESPACE);
    await applyExample(cp, NAMESPACE);
    say(
      `Applied deploy/examples/zigbee2mqtt.yaml in ${NAMESPACE} (Pod Security "restricted"), with ${GRACE_PERIOD_ANNOTATION}: 0s`,
    );
    return { reactionMs: await unplug(stage, await showPod(stage)) };
  } finally {
    say('Cleaning up: the stand-in, the webhook, the real node (host restored), the control plane');
    await stage.standIn?.stop();
    await stage.webhook?.stop();
    await stage.node?.stop();
    await stage.host?.undo();
    await cp.stop();
  }
}
