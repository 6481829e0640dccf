/**
 * `kubectl sidecar-destruct check`: reads what the install consists of and hands each line to pure/check.ts.
 * Every read is a get or a list, but one: a server-side dry run of an opted-in probe pod (`dryRun=All`, so
 * nothing is stored), the only way to see that the API server reaches the webhook. Exit 1 when a line failed.
 */
import { X509Certificate } from 'node:crypto';
import { ApiException, type V1Pod } from '@kubernetes/client-node';
import {
  dependsOnNfd,
  NAMESPACE_INJECTION_ENABLED,
  NAMESPACE_INJECTION_LABEL,
  POD_INJECT_LABEL,
  ruleOf,
  SIDECAR_CONTAINER,
  STATUS_ANNOTATION,
} from '@sidecar-destruct/core';
import { NATIVE_SIDECAR_MINOR } from '@sidecar-destruct/webhook/mode';
import type { Cluster } from './cluster.js';
import type { Answer } from './explain.js';
import { type Format, render, table } from './output.js';
import {
  type CheckLine,
  certificateLine,
  checkStatus,
  endpointsLine,
  imageLine,
  nativeLine,
  nfdLine,
  type PolicyFacts,
  type Probe,
  policiesLine,
  probeLine,
  type Seen,
  versionLine,
} from './pure/check.js';
import { INSTALL } from './pure/install.js';

const { namespace } = INSTALL;

async function policyFacts(cluster: Cluster): Promise<PolicyFacts> {
  const api = await cluster.seen('discover admissionregistration.k8s.io/v1', async () => {
    const { resources } = await cluster.admission.getAPIResources();
    if (!resources.some((r) => r.name === 'validatingadmissionpolicies'))
      throw new ApiException(404, '', '', {});
    return true as const;
  });
  const policies = new Map<string, Seen<true>>();
  const bindings = new Map<string, Seen<string>>();
  for (const [policy, names] of Object.entries(INSTALL.policies)) {
    policies.set(
      policy,
      await cluster.seen(`get validatingadmissionpolicy ${policy}`, async () => {
        await cluster.admission.readValidatingAdmissionPolicy({ name: policy });
        return true as const;
      }),
    );
    for (const name of names)
      bindings.set(
        name,
        await cluster.seen(`get validatingadmissionpolicybinding ${name}`, async () => {
          const b = await cluster.admission.readValidatingAdmissionPolicyBinding({ name });
          return b.spec?.policyName ?? '';
        }),
      );
  }
  const parameter = await cluster.seen(`get configmap ${namespace}/${INSTALL.configMap}`, async () => {
    await cluster.core.readNamespacedConfigMap({ namespace, name: INSTALL.configMap });
    return true as const;
  });
  return { api, policies, bindings, parameter };
}

async function readyEndpoints(cluster: Cluster): Promise<Seen<number>> {
  return cluster.seen(`list endpointslices in ${namespace}`, async () => {
    const { items } = await cluster.discovery.listNamespacedEndpointSlice({
      namespace,
      labelSelector: `kubernetes.io/service-name=${INSTALL.service}`,
    });
    return items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
  });
}

const probePod = (ns: string): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'sidecar-destruct-check-probe', namespace: ns, labels: { [POD_INJECT_LABEL]: 'true' } },
  spec: {
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10' }],
  },
});

/** A server-side dry run of an opted-in pod in `probeNamespace`, or in the first namespace labelled for injection. */
async function probe(cluster: Cluster, probeNamespace: string | undefined): Promise<Seen<Probe>> {
  let ns = probeNamespace;
  if (!ns) {
    const enabled = await cluster.seen(
      'list namespaces',
      async () =>
        (
          await cluster.core.listNamespace({
            labelSelector: `${NAMESPACE_INJECTION_LABEL}=${NAMESPACE_INJECTION_ENABLED}`,
          })
        ).items,
    );
    if (!enabled.ok) return enabled;
    ns = enabled.value.map((n) => n.metadata?.name ?? '').find((n) => n && n !== namespace);
    if (!ns) return { ok: true, value: { kind: 'no-namespace' } };
  }
  const target = ns;
  try {
    const pod = await cluster.core.createNamespacedPod({
      namespace: target,
      body: probePod(target),
      dryRun: 'All',
    });
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    return {
      ok: true,
      value: {
        kind: all.some((c) => c.name === SIDECAR_CONTAINER) ? 'injected' : 'not-injected',
        namespace: target,
      },
    };
  } catch (e) {
    const body = e instanceof ApiException ? JSON.stringify(e.body ?? '') : (e as Error).message;
    if (e instanceof ApiException && e.code === 403 && /cannot create resource/.test(body))
      return {
        ok: false,
        why: 'forbidden',
        what: `create pods in ${target} (dry run)`,
        message: 'forbidden',
      };
    const message = e instanceof ApiException ? ((e.body as { message?: string })?.message ?? body) : body;
    return {
      ok: true,
      value: { kind: 'refused', namespace: target, message: String(message).slice(0, 300) },
    };
  }
}

async function certificate(cluster: Cluster): Promise<Seen<Date>> {
  return cluster.seen(`get secret ${namespace}/${INSTALL.servingSecret}`, async () => {
    const secret = await cluster.core.readNamespacedSecret({ namespace, name: INSTALL.servingSecret });
    const pem = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
    return new Date(new X509Certificate(pem).validTo);
  });
}

/** Protected pods (injected) whose rule names a node-feature-discovery label, as `namespace/name`. */
async function nfdDependents(cluster: Cluster): Promise<Seen<string[]>> {
  const pods = await cluster.pods(undefined);
  if (!pods.ok) return pods;
  const names = pods.value
    .filter((p) => p.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined)
    .filter((p) => {
      const rule = ruleOf(p);
      return rule.ok && dependsOnNfd(rule.value);
    })
    .map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
  return { ok: true, value: names };
}

export async function checkInstall(
  cluster: Cluster,
  probeNamespace: string | undefined,
  now: Date,
  format: Format,
): Promise<Answer> {
  const version = await cluster.seen(
    'get /version',
    async () => (await cluster.versions.getCode()).gitVersion,
  );
  const nodes = await cluster.nodes();
  const configMap = await cluster.seen(
    `get configmap ${namespace}/${INSTALL.configMap}`,
    async () =>
      (await cluster.core.readNamespacedConfigMap({ namespace, name: INSTALL.configMap })).data ?? {},
  );
  const renewal = await cluster.seen(
    `get cronjob ${namespace}/${INSTALL.renewCronJob}`,
    async () =>
      (await cluster.batch.readNamespacedCronJob({ namespace, name: INSTALL.renewCronJob })).spec?.schedule ??
      '',
  );
  const nfd = await cluster.seen('discover the API groups', async () =>
    (await cluster.apis.getAPIVersions()).groups.some((g) => g.name === 'nfd.k8s-sigs.io'),
  );
  const kubelets: Seen<ReadonlyMap<string, string>> = nodes.ok
    ? {
        ok: true,
        value: new Map(
          nodes.value.map((n) => [n.metadata?.name ?? '', n.status?.nodeInfo?.kubeletVersion ?? '']),
        ),
      }
    : nodes;
  const lines: CheckLine[] = [
    versionLine(version),
    policiesLine(await policyFacts(cluster)),
    endpointsLine(await readyEndpoints(cluster)),
    probeLine(await probe(cluster, probeNamespace)),
    certificateLine(await certificate(cluster), renewal, now),
    imageLine(configMap),
    nfdLine(await nfdDependents(cluster), nfd),
    nativeLine(kubelets, NATIVE_SIDECAR_MINOR),
  ];
  const human = () =>
    table(
      ['check', 'status', 'detail'],
      lines.map((l) => [l.check, l.status.toUpperCase(), l.detail]),
    ) +
    lines
      .filter((l) => l.fix && l.status !== 'ok')
      .map((l) => `\nfix ${l.check}: ${l.fix}`)
      .join('') +
    (lines.some((l) => l.fix && l.status !== 'ok') ? '\n' : '');
  return { text: render(format, { checks: lines }, human), status: checkStatus(lines) };
}
