/**
 * `npm run demo`: the whole story on real Kubernetes components, narrated with timestamps. A local
 * control plane (etcd, kube-apiserver, kube-scheduler, kube-controller-manager), the add-on installed from
 * deploy/ (the webhook as a local process with a certificate from certs/), two nodes, an unmodified example
 * Deployment pinned to a USB stick, and the stick moved from one node to the other.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  EVENT_REASON,
  GRACE_PERIOD_ANNOTATION,
  SIDECAR_CONTAINER,
  TOKEN_VOLUME,
} from '@sidecar-destruct/core';
import { startWebhook } from '@sidecar-destruct/infra';
import {
  type RunningSidecar,
  registerNode,
  StandInKubelet,
  startControlPlane,
} from '@sidecar-destruct/testkit';
import {
  applyExample,
  type BaseStage,
  createInjectedNamespace,
  livePod,
  moveStick,
  narrator,
  USB_LABEL,
  untilDeleting,
} from './demo-steps.js';

const NAMESPACE = 'home';
const NODE_A = 'pi-kitchen';
const NODE_B = 'pi-garage';

export interface DemoOptions {
  readonly keep: boolean;
  readonly write: (line: string) => void;
  /** Resolves when the user asks to stop (Ctrl-C); used with --keep. */
  readonly interrupted: Promise<void>;
}

export interface DemoResult {
  /** Label removed → pod being deleted, as measured by the demo. */
  readonly reactionMs: number;
  /** Label removed → replacement bound to the other node. */
  readonly rescheduledMs: number;
}

/** What the story has started so far, for the next step and for the cleanup. */
type Stage = BaseStage;

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const say = narrator(options.write);
  say('Starting a local control plane: etcd, kube-apiserver, kube-scheduler, kube-controller-manager');
  const cp = await startControlPlane({ scheduler: true, controllerManager: true });
  const stage: Stage = { cp, say, write: options.write };
  try {
    say(`Control plane ${cp.version} ready at ${cp.server}`);
    await installAddOn(stage);
    const kubelet = await startNodes(stage);
    const { first, sidecar } = await runExample(stage, kubelet);
    const result = await unplugStick(stage, first, sidecar);
    if (options.keep) await keepRunning(stage, options.interrupted);
    return result;
  } finally {
    say('Cleaning up: stopping the sidecars, the webhook and the control plane');
    await stage.standIn?.stop();
    await stage.webhook?.stop();
    await cp.stop();
  }
}

async function installAddOn(stage: Stage): Promise<void> {
  stage.say(
    'Installing sidecar-destruct from deploy/base: RBAC, admission policies, MutatingWebhookConfiguration',
  );
  stage.webhook = await startWebhook(stage.cp);
  stage.say(
    `Webhook serving HTTPS at ${stage.webhook.url} with a certificate from certs/, registered with the API server`,
  );
}

/** Two nodes, the stick on the first, and the stand-in kubelet that runs their pods. */
async function startNodes(stage: Stage): Promise<StandInKubelet> {
  const { cp } = stage;
  await registerNode(cp, NODE_A, { 'kubernetes.io/arch': 'arm64', [USB_LABEL]: 'true' });
  await registerNode(cp, NODE_B, { 'kubernetes.io/arch': 'arm64' });
  stage.say(
    `Nodes: ${NODE_A} has the Zigbee stick (${USB_LABEL}=true, the label node-feature-discovery gives it; no NFD runs in this demo: it labels the nodes itself, and --real-node runs a real one); ${NODE_B} has none`,
  );
  stage.standIn = new StandInKubelet(cp, new Set([NODE_A, NODE_B]));
  stage.standIn.start();
  return stage.standIn;
}

/** The example applied in an injected namespace; resolves once its pod's sidecar watches the node. */
async function runExample(
  stage: Stage,
  kubelet: StandInKubelet,
): Promise<{ first: V1Pod; sidecar: RunningSidecar }> {
  const { cp, say } = stage;
  await createInjectedNamespace(cp, NAMESPACE);
  say(
    `Namespace ${NAMESPACE} labelled sidecar-destruct.io/injection=enabled (and Pod Security "restricted")`,
  );

  const deployment = await applyExample(cp, NAMESPACE);
  say(
    `Applied deploy/examples/zigbee2mqtt.yaml (a Deployment with nodeSelector on the stick) with ${GRACE_PERIOD_ANNOTATION}: 0s, for the fastest reaction (default 10s)`,
  );

  const first = await livePod(cp, NAMESPACE, NODE_A);
  const firstName = first.metadata?.name ?? '';
  say(
    `Pod ${firstName} scheduled on ${NODE_A}. What the webhook changed, compared with the Deployment's template:`,
  );
  const template = deployment.spec.template.spec;
  for (const line of describeInjection(template, first)) stage.write(`           ${line}`);

  const sidecar = await kubelet.waitForSidecar(first.metadata?.uid ?? '');
  await sidecar.waitForLog((l) => l.msg === 'watching the node', 15_000);
  say(
    `Sidecar of ${firstName} is watching node ${NODE_A} (it started the watch ${sidecar.logs.find((l) => l.msg === 'watching the node')?.startupMs} ms after its process started)`,
  );
  return { first, sidecar };
}

/** Moves the stick to the other node and tells what follows: the decision, the deletion, the replacement. */
async function unplugStick(stage: Stage, first: V1Pod, sidecar: RunningSidecar): Promise<DemoResult> {
  const { cp, say } = stage;
  const firstName = first.metadata?.name ?? '';
  await new Promise((r) => setTimeout(r, 500));
  say(`Unplugging the stick: removing ${USB_LABEL} from ${NODE_A}, adding it to ${NODE_B}`);
  const unplugged = performance.now();
  await moveStick(cp, NODE_A, NODE_B);

  const decision = await sidecar.waitForLog((l) => l.decision === 'act', 10_000);
  say(`Sidecar decided: ${decision.msg}: ${String(decision.reason)}`);
  await untilDeleting(cp, NAMESPACE, firstName);
  const reactionMs = performance.now() - unplugged;
  say(`Pod ${firstName} is being deleted (its own request, with a precondition on its uid)`);
  await sayEvents(stage, first);

  const second = await livePod(cp, NAMESPACE, NODE_B, { not: first.metadata?.uid });
  const rescheduledMs = performance.now() - unplugged;
  const injected = second.spec?.initContainers?.some((c) => c.name === SIDECAR_CONTAINER);
  say(
    `Replacement ${second.metadata?.name} scheduled on ${NODE_B}${injected ? ', with its own sidecar' : ''}`,
  );
  stage.write('');
  stage.write(
    `Reaction: label removed -> pod deleting in ${reactionMs.toFixed(0)} ms; -> replacement on ${NODE_B} in ${rescheduledMs.toFixed(0)} ms`,
  );
  stage.write(`(${EVENT_REASON} is on the old pod: kubectl describe shows why it went away.)`);
  return { reactionMs, rescheduledMs };
}

/** The Events on the pod, as kubectl describe would show them. */
async function sayEvents(stage: Stage, pod: V1Pod): Promise<void> {
  const events = await stage.cp.rest(
    'GET',
    `/api/v1/namespaces/${NAMESPACE}/events?fieldSelector=involvedObject.uid=${pod.metadata?.uid}`,
  );
  for (const e of events.body.items ?? [])
    stage.say(`Event on ${pod.metadata?.name ?? ''}: ${e.type} ${e.reason}: ${e.message}`);
}

/** --keep: how to explore the control plane, which runs until the user interrupts. */
async function keepRunning(stage: Stage, interrupted: Promise<void>): Promise<void> {
  const { cp, write } = stage;
  write('');
  write('The control plane keeps running (Ctrl-C stops and removes it). Explore it with:');
  write(`  export KUBECONFIG=${cp.kubeconfig}`);
  write(`  ${cp.binDir}/kubectl get nodes -L ${USB_LABEL}`);
  write(`  ${cp.binDir}/kubectl -n ${NAMESPACE} get pods -o wide`);
  write(`  ${cp.binDir}/kubectl -n ${NAMESPACE} get events --field-selector reason=${EVENT_REASON}`);
  write(`  ${cp.binDir}/kubectl label node ${NODE_B} ${USB_LABEL}-   # unplug again`);
  await interrupted;
}

/** What the webhook added to the pod, compared with the template that was applied. */
function describeInjection(template: V1Pod['spec'], pod: V1Pod): string[] {
  const lines: string[] = [];
  const before = new Set(
    [...(template?.initContainers ?? []), ...(template?.containers ?? [])].map((c) => c.name),
  );
  for (const c of pod.spec?.initContainers ?? []) {
    if (!before.has(c.name))
      lines.push(
        `+ initContainers: ${c.name} (${c.restartPolicy === 'Always' ? 'native sidecar' : 'init'}), image ${c.image}`,
      );
  }
  for (const c of pod.spec?.containers ?? [])
    if (!before.has(c.name)) lines.push(`+ containers: ${c.name}, image ${c.image}`);
  const account = pod.spec?.serviceAccountName;
  if (account && account !== (template?.serviceAccountName ?? 'default')) {
    lines.push(`~ serviceAccountName: ${template?.serviceAccountName ?? 'default'} -> ${account}`);
  }
  const volumes = new Set((template?.volumes ?? []).map((v) => v.name));
  for (const v of pod.spec?.volumes ?? [])
    if (!volumes.has(v.name) && v.name === TOKEN_VOLUME) lines.push(`+ volumes: ${v.name}`);
  const status = pod.metadata?.annotations?.['sidecar-destruct.io/status'];
  if (status) lines.push(`+ annotation sidecar-destruct.io/status=${status}`);
  return lines;
}
