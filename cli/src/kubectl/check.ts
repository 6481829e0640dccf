/**
 * `kubectl sidecar-destruct check`: reads what the install consists of and hands each line to pure/check.ts.
 * Every read is a get or a list, but one: a server-side dry run of an opted-in probe pod (`dryRun=All`, so
 * nothing is stored), the only way to see that the API server reaches the webhook. Exit 1 when a line failed.
 */
import { X509Certificate } from 'node:crypto';
import type { V1EndpointSlice, V1Pod, V1Secret } from '@kubernetes/client-node';
import {
  dependsOnNfd,
  NAMESPACE_INJECTION_ENABLED,
  NAMESPACE_INJECTION_LABEL,
  POD_INJECT_LABEL,
  ruleOf,
  SIDECAR_ACCOUNT,
  SIDECAR_CONTAINER,
  STATUS_ANNOTATION,
} from '@sidecar-destruct/core';
import { NATIVE_SIDECAR_MINOR } from '@sidecar-destruct/webhook/mode';
import { ApiError, type Cluster } from './cluster.js';
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
const ADMISSION = '/apis/admissionregistration.k8s.io/v1';
const IN_INSTALL = `/api/v1/namespaces/${namespace}`;

async function policyFacts(cluster: Cluster): Promise<PolicyFacts> {
  const api = await cluster.seen('discover admissionregistration.k8s.io/v1', async () => {
    const { resources } = await cluster.get<{ resources: { name: string }[] }>(ADMISSION);
    if (!resources.some((r) => r.name === 'validatingadmissionpolicies'))
      throw new ApiError(404, 'not served');
    return true as const;
  });
  const policies = new Map<string, Seen<true>>();
  const bindings = new Map<string, Seen<{ policy: string; deny: boolean }>>();
  for (const [policy, names] of Object.entries(INSTALL.policies)) {
    const seen = await cluster.read(
      `get validatingadmissionpolicy ${policy}`,
      `${ADMISSION}/validatingadmissionpolicies/${policy}`,
    );
    policies.set(policy, seen.ok ? { ok: true, value: true } : seen);
    for (const name of names) {
      const binding = await cluster.read<{ spec?: { policyName?: string; validationActions?: string[] } }>(
        `get validatingadmissionpolicybinding ${name}`,
        `${ADMISSION}/validatingadmissionpolicybindings/${name}`,
      );
      const spec = binding.ok ? binding.value.spec : undefined;
      const value = {
        policy: spec?.policyName ?? '',
        deny: spec?.validationActions?.includes('Deny') ?? false,
      };
      bindings.set(name, binding.ok ? { ok: true, value } : binding);
    }
  }
  const parameter = await cluster.read(
    `get configmap ${namespace}/${INSTALL.configMap}`,
    `${IN_INSTALL}/configmaps/${INSTALL.configMap}`,
  );
  return { api, policies, bindings, parameter: parameter.ok ? { ok: true, value: true } : parameter };
}

async function readyEndpoints(cluster: Cluster): Promise<Seen<number>> {
  const selector = encodeURIComponent(`kubernetes.io/service-name=${INSTALL.service}`);
  const slices = await cluster.list<V1EndpointSlice>(
    `list endpointslices in ${namespace}`,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices?labelSelector=${selector}`,
  );
  if (!slices.ok) return slices;
  return {
    ok: true,
    value: slices.value.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length,
  };
}

const probePod = (ns: string): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'sidecar-destruct-check-probe-',
    namespace: ns,
    labels: { [POD_INJECT_LABEL]: 'true' },
  },
  spec: {
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    // Pod Security "restricted" admits it, so a namespace that enforces it does not refuse the probe itself.
    securityContext: { runAsNonRoot: true, runAsUser: 65_535, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'probe',
        image: 'registry.k8s.io/pause:3.10',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
  },
});

/** The first namespace labelled for injection, other than the install's own. */
async function enabledNamespace(cluster: Cluster): Promise<Seen<string | undefined>> {
  const enabled = await cluster.namespaces(`${NAMESPACE_INJECTION_LABEL}=${NAMESPACE_INJECTION_ENABLED}`);
  if (!enabled.ok) return enabled;
  return {
    ok: true,
    value: enabled.value.map((n) => n.metadata?.name ?? '').find((n) => n && n !== namespace),
  };
}

/** A server-side dry run of an opted-in pod in `probeNamespace`, or in the first namespace labelled for injection. */
async function probe(cluster: Cluster, probeNamespace: string | undefined): Promise<Seen<Probe>> {
  const found = probeNamespace
    ? { ok: true as const, value: probeNamespace }
    : await enabledNamespace(cluster);
  if (!found.ok) return found;
  const target = found.value;
  if (!target) return { ok: true, value: { kind: 'no-namespace' } };
  try {
    const pod = await cluster.call<V1Pod>(
      'POST',
      `/api/v1/namespaces/${encodeURIComponent(target)}/pods?${new URLSearchParams({ dryRun: 'All' })}`,
      probePod(target),
    );
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    const injected = all.some((c) => c.name === SIDECAR_CONTAINER);
    return { ok: true, value: { kind: injected ? 'injected' : 'not-injected', namespace: target } };
  } catch (e) {
    if (!(e instanceof ApiError))
      return {
        ok: false,
        why: 'error',
        what: `create pods in ${target} (dry run)`,
        message: (e as Error).message,
      };
    // The webhook moves a pod on the default account to the dedicated one, which a dry run does not create: the
    // ServiceAccount admission plugin refusing that account is the webhook's mutation, seen.
    if (e.message.includes(`serviceaccount "${SIDECAR_ACCOUNT}" not found`))
      return { ok: true, value: { kind: 'injected', namespace: target } };
    // RBAC's refusal names the verb; an admission refusal (a policy, the webhook) does not.
    if (e.code === 403 && /cannot create resource/.test(e.message))
      return {
        ok: false,
        why: 'forbidden',
        what: `create pods in ${target} (dry run)`,
        message: 'forbidden',
      };
    return { ok: true, value: { kind: 'refused', namespace: target, message: e.message } };
  }
}

async function certificate(cluster: Cluster): Promise<Seen<Date>> {
  const secret = await cluster.read<V1Secret>(
    `get secret ${namespace}/${INSTALL.servingSecret}`,
    `${IN_INSTALL}/secrets/${INSTALL.servingSecret}`,
  );
  if (!secret.ok) return secret;
  const pem = Buffer.from(secret.value.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  try {
    return { ok: true, value: new Date(new X509Certificate(pem).validTo) };
  } catch (e) {
    return {
      ok: false,
      why: 'error',
      what: `read tls.crt of ${INSTALL.servingSecret}`,
      message: (e as Error).message,
    };
  }
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

/** The simple reads: the version, the ConfigMap, the renewing CronJob, NFD's API group, the kubelets. */
async function installFacts(cluster: Cluster) {
  const [version, configMap, cronJob, groups, nodes] = await Promise.all([
    cluster.read<{ gitVersion: string }>('get /version', '/version'),
    cluster.read<{ data?: Record<string, string> }>(
      `get configmap ${namespace}/${INSTALL.configMap}`,
      `${IN_INSTALL}/configmaps/${INSTALL.configMap}`,
    ),
    cluster.read<{ spec?: { schedule?: string } }>(
      `get cronjob ${namespace}/${INSTALL.renewCronJob}`,
      `/apis/batch/v1/namespaces/${namespace}/cronjobs/${INSTALL.renewCronJob}`,
    ),
    cluster.read<{ groups: { name: string }[] }>('discover the API groups', '/apis'),
    cluster.nodes(),
  ]);
  const map = <T, U>(seen: Seen<T>, f: (t: T) => U): Seen<U> =>
    seen.ok ? { ok: true, value: f(seen.value) } : seen;
  return {
    version: map(version, (v) => v.gitVersion),
    configMap: map(configMap, (c) => c.data ?? {}),
    renewal: map(cronJob, (c) => c.spec?.schedule ?? ''),
    nfd: map(groups, (g) => g.groups.some((x) => x.name === 'nfd.k8s-sigs.io')),
    kubelets: map(
      nodes,
      (ns) =>
        new Map(
          ns.map((n) => [n.metadata?.name ?? '', n.status?.nodeInfo?.kubeletVersion ?? '']),
        ) as ReadonlyMap<string, string>,
    ),
  };
}

function human(lines: readonly CheckLine[]): string {
  const fixes = lines.filter((l) => l.fix && l.status !== 'ok').map((l) => `fix ${l.check}: ${l.fix}`);
  const body = table(
    ['check', 'status', 'detail'],
    lines.map((l) => [l.check, l.status.toUpperCase(), l.detail]),
  );
  return fixes.length > 0
    ? `${body}
${fixes.join('\n')}
`
    : body;
}

export async function checkInstall(
  cluster: Cluster,
  probeNamespace: string | undefined,
  now: Date,
  format: Format,
): Promise<Answer> {
  const facts = await installFacts(cluster);
  const configuration = await cluster.read<{ webhooks?: { clientConfig?: { url?: string } }[] }>(
    `get mutatingwebhookconfiguration ${INSTALL.webhookConfiguration}`,
    `${ADMISSION}/mutatingwebhookconfigurations/${INSTALL.webhookConfiguration}`,
  );
  const url = configuration.ok
    ? configuration.value.webhooks?.find((w) => w.clientConfig?.url)?.clientConfig?.url
    : undefined;
  const endpoints = endpointsLine(await readyEndpoints(cluster), url);
  const cert = certificateLine(await certificate(cluster), facts.renewal, now);
  const blockedBy = [endpoints, cert].find((l) => l.status === 'fail');
  const lines: CheckLine[] = [
    versionLine(facts.version),
    policiesLine(await policyFacts(cluster)),
    endpoints,
    blockedBy
      ? probeLine(undefined, `the ${blockedBy.check} line failed`)
      : probeLine(await probe(cluster, probeNamespace)),
    cert,
    imageLine(facts.configMap),
    nfdLine(await nfdDependents(cluster), facts.nfd),
    nativeLine(facts.kubelets, NATIVE_SIDECAR_MINOR),
  ];
  return { text: render(format, { checks: lines }, () => human(lines)), status: checkStatus(lines) };
}
