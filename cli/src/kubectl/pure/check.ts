/**
 * `check`, line by line: each line is a pure function of what was read (or of why it could not be read), with
 * the fix where one exists. `unknown` is never `ok`: a line RBAC hid says what it could not read.
 */
import { TESTED_KUBERNETES } from '@sidecar-destruct/core';
import { INSTALL } from './install.js';

/** `skip`: not tried, because a line before it already failed for the same cause. */
export type Status = 'ok' | 'warn' | 'fail' | 'unknown' | 'skip';

export interface CheckLine {
  readonly check: string;
  readonly status: Status;
  readonly detail: string;
  readonly fix?: string;
}

/** What a read gave: the value, or why there is none (`forbidden`: RBAC; `missing`: 404; `error`: anything else). */
export type Seen<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly why: 'forbidden' | 'missing' | 'error';
      readonly what: string;
      readonly message: string;
    };

const APPLY = 'kubectl apply -k deploy/ (from the release you installed)';

/** A line for a read that failed for a reason other than "not there". */
/** What a failed read says, in every command: `cannot list nodes: forbidden by RBAC`. */
export const cannotRead = (seen: Seen<unknown> & { ok: false }): string =>
  `cannot ${seen.what}: ${seen.why === 'forbidden' ? 'forbidden by RBAC' : seen.message}`;

export const unreadable = (check: string, seen: Seen<unknown> & { ok: false }): CheckLine => ({
  check,
  status: 'unknown',
  detail: cannotRead(seen),
  ...(seen.why === 'forbidden' ? { fix: `ask for get/list on what this line reads (${seen.what})` } : {}),
});

/** The line for an install object that could not be read: missing (apply deploy/), or hidden. */
const absent = (check: string, seen: Seen<unknown> & { ok: false }, what: string): CheckLine =>
  seen.why === 'missing'
    ? { check, status: 'fail', detail: `${what} is missing`, fix: APPLY }
    : unreadable(check, seen);

const minor = (version: string): readonly [number, number] | undefined => {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
};
const below = (a: readonly [number, number], b: readonly [number, number]): boolean =>
  a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

export function versionLine(version: Seen<string>): CheckLine {
  const check = 'server version';
  if (!version.ok) return unreadable(check, version);
  const v = minor(version.value);
  const range = `${TESTED_KUBERNETES.oldest.join('.')}–${TESTED_KUBERNETES.newest.join('.')}`;
  if (!v) return { check, status: 'warn', detail: `unreadable version ${version.value}` };
  if (below(v, TESTED_KUBERNETES.oldest) || below(TESTED_KUBERNETES.newest, v))
    return { check, status: 'warn', detail: `${version.value}: outside the tested range ${range}` };
  return { check, status: 'ok', detail: `${version.value} (tested: ${range})` };
}

export interface PolicyFacts {
  /** The ValidatingAdmissionPolicy API answered (it is off on a server without it). */
  readonly api: Seen<true>;
  readonly policies: ReadonlyMap<string, Seen<true>>;
  /** Each binding's policy, and whether it denies (`validationActions` has Deny; Audit or Warn alone do not). */
  readonly bindings: ReadonlyMap<string, Seen<{ readonly policy: string; readonly deny: boolean }>>;
  /** The ConfigMap the bindings name as their parameter. */
  readonly parameter: Seen<true>;
}

/** The four policies, their bindings (each naming its policy) and the parameter ConfigMap. */
export function policiesLine(facts: PolicyFacts): CheckLine {
  const check = 'admission policies';
  if (!facts.api.ok) {
    return facts.api.why === 'missing'
      ? {
          check,
          status: 'fail',
          detail: 'the ValidatingAdmissionPolicy API (admissionregistration.k8s.io/v1) is off',
          fix: 'use Kubernetes 1.30 or later, where it is on by default',
        }
      : unreadable(check, facts.api);
  }
  const problems: string[] = [];
  let hidden: (Seen<unknown> & { ok: false }) | undefined;
  const look = (kind: string, name: string, seen: Seen<unknown> | undefined): void => {
    if (seen?.ok) return;
    if (!seen || seen.why === 'missing') problems.push(`${kind} ${name} is missing`);
    else hidden ??= seen;
  };
  for (const [policy, bindings] of Object.entries(INSTALL.policies)) {
    look('ValidatingAdmissionPolicy', policy, facts.policies.get(policy));
    for (const binding of bindings) {
      const seen = facts.bindings.get(binding);
      look('ValidatingAdmissionPolicyBinding', binding, seen);
      if (seen?.ok && seen.value.policy !== policy)
        problems.push(`binding ${binding} names policy ${seen.value.policy}, not ${policy}`);
      if (seen?.ok && !seen.value.deny)
        problems.push(`binding ${binding} does not deny (validationActions without Deny)`);
    }
  }
  look('ConfigMap', `${INSTALL.namespace}/${INSTALL.configMap} (the policies' parameter)`, facts.parameter);
  if (problems.length > 0) return { check, status: 'fail', detail: problems.join('; '), fix: APPLY };
  if (hidden) return unreadable(check, hidden);
  const count = Object.values(INSTALL.policies).flat().length;
  return {
    check,
    status: 'ok',
    detail: `${Object.keys(INSTALL.policies).length} policies and ${count} bindings in force, parameter ${INSTALL.configMap} found`,
  };
}

/** The webhook Service's ready endpoints (from its EndpointSlices). */
export function endpointsLine(ready: Seen<number>, url?: string): CheckLine {
  const check = 'webhook endpoints';
  // A configuration that calls the webhook by URL does not go through the Service at all.
  if (url)
    return {
      check,
      status: 'skip',
      detail: `the webhook is called by URL (${url}), not through the Service`,
    };
  if (!ready.ok) return unreadable(check, ready);
  if (ready.value === 0)
    return {
      check,
      status: 'fail',
      detail: `Service ${INSTALL.namespace}/${INSTALL.service} has no ready endpoint: opted-in pods cannot be created`,
      fix: `kubectl -n ${INSTALL.namespace} get deployment,pods -l app.kubernetes.io/component=webhook; kubectl -n ${INSTALL.namespace} scale deployment ${INSTALL.deployment} --replicas=2`,
    };
  return { check, status: 'ok', detail: `${ready.value} ready` };
}

/** What a server-side dry run of an opted-in probe pod gave: injected, admitted without injection, or refused. */
export type Probe =
  | { readonly kind: 'injected'; readonly namespace: string }
  | { readonly kind: 'not-injected'; readonly namespace: string }
  | { readonly kind: 'refused'; readonly namespace: string; readonly message: string }
  | { readonly kind: 'no-namespace' };

/**
 * Whether the API server reaches the webhook. Not tried when an earlier line already says why it cannot
 * (`blockedBy`: no ready endpoint, an expired certificate), so that one cause fails one line.
 */
export function probeLine(probe: Seen<Probe> | undefined, blockedBy?: string): CheckLine {
  const check = 'webhook reachable';
  if (blockedBy || !probe) return { check, status: 'skip', detail: `not tried: ${blockedBy ?? 'no probe'}` };
  if (!probe.ok)
    return probe.why === 'forbidden'
      ? {
          check,
          status: 'unknown',
          detail: `cannot ${probe.what}: a server-side dry run needs create on pods (nothing is created)`,
          fix: 'name a namespace where you may create pods: --probe-namespace NS',
        }
      : unreadable(check, probe);
  const p = probe.value;
  if (p.kind === 'no-namespace')
    return {
      check,
      status: 'unknown',
      detail: 'no namespace is labelled for injection to try a pod in',
      fix: 'name one: --probe-namespace NS',
    };
  if (p.kind === 'injected')
    return { check, status: 'ok', detail: `a dry-run pod in ${p.namespace} was injected by the webhook` };
  if (p.kind === 'not-injected')
    return {
      check,
      status: 'fail',
      detail: `a dry-run opted-in pod in ${p.namespace} was admitted without the sidecar`,
      fix: `kubectl get mutatingwebhookconfiguration ${INSTALL.webhookConfiguration} -o yaml (selectors, failurePolicy)`,
    };
  return {
    check,
    status: 'fail',
    detail: `the API server refused a dry-run pod in ${p.namespace}: ${p.message}`,
    fix: `see the webhook endpoints and certificate lines; kubectl get mutatingwebhookconfiguration ${INSTALL.webhookConfiguration}`,
  };
}

const DAY_MS = 86_400_000;
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The serving certificate's expiry against the renewal window of the certificate Job. */
export function certificateLine(notAfter: Seen<Date>, renewal: Seen<string>, now: Date): CheckLine {
  const check = 'serving certificate';
  if (!notAfter.ok) return absent(check, notAfter, `Secret ${INSTALL.namespace}/${INSTALL.servingSecret}`);
  const expires = notAfter.value.getTime();
  const left = Math.floor((expires - now.getTime()) / DAY_MS);
  const renews = day(expires - INSTALL.renewBeforeDays * DAY_MS);
  const rerun = `kubectl -n ${INSTALL.namespace} create job --from=cronjob/${INSTALL.renewCronJob} renew-now`;
  if (expires <= now.getTime())
    return {
      check,
      status: 'fail',
      detail: `expired on ${day(expires)}: the API server refuses the webhook`,
      fix: rerun,
    };
  if (left > INSTALL.renewBeforeDays)
    return { check, status: 'ok', detail: `expires ${day(expires)} (${left} days)` };
  if (!renewal.ok)
    return renewal.why === 'missing'
      ? {
          check,
          status: 'fail',
          detail: `expires ${day(expires)} (${left} days) and no CronJob renews it`,
          fix: APPLY,
        }
      : {
          check,
          status: 'warn',
          detail: `expires ${day(expires)} (${left} days); renewal due since ${renews}`,
        };
  return {
    check,
    status: 'warn',
    detail: `expires ${day(expires)} (${left} days); CronJob ${INSTALL.renewCronJob} renews it at its next run (${renewal.value})`,
    fix: rerun,
  };
}

export function imageLine(configMap: Seen<Readonly<Record<string, string>>>): CheckLine {
  const check = 'sidecar image';
  if (!configMap.ok) return absent(check, configMap, `ConfigMap ${INSTALL.namespace}/${INSTALL.configMap}`);
  const image = configMap.value[INSTALL.imageKey];
  return image
    ? { check, status: 'ok', detail: image }
    : {
        check,
        status: 'fail',
        detail: `ConfigMap ${INSTALL.configMap} has no ${INSTALL.imageKey}: every opted-in pod is refused`,
        fix: APPLY,
      };
}

/** NFD matters only when a protected pod's rule names one of its labels. */
export function nfdLine(dependents: Seen<readonly string[]>, nfdInstalled: Seen<boolean>): CheckLine {
  const check = 'node-feature-discovery';
  if (!dependents.ok) return unreadable(check, dependents);
  if (dependents.value.length === 0)
    return { check, status: 'ok', detail: 'no protected pod names a node-feature-discovery label' };
  const who = `${dependents.value.length} protected pod(s) name its labels (${dependents.value.slice(0, 3).join(', ')})`;
  if (!nfdInstalled.ok) return unreadable(check, nfdInstalled);
  return nfdInstalled.value
    ? { check, status: 'ok', detail: `installed; ${who}` }
    : {
        check,
        status: 'fail',
        detail: `not installed, but ${who}: their labels are never set`,
        fix: 'kubectl apply -k "https://github.com/kubernetes-sigs/node-feature-discovery/deployment/overlays/default?ref=v0.19.0"',
      };
}

/** Native sidecars need kubelet 1.29 or later on every node (the webhook's `auto` mode decides the same way). */
export function nativeLine(kubelets: Seen<ReadonlyMap<string, string>>, nativeMinor: number): CheckLine {
  const check = 'native sidecars';
  if (!kubelets.ok) return unreadable(check, kubelets);
  const old = [...kubelets.value].filter(([, v]) => {
    const m = minor(v);
    return m !== undefined && below(m, [1, nativeMinor]);
  });
  if (kubelets.value.size === 0)
    return { check, status: 'warn', detail: 'no node reports a kubelet version' };
  if (old.length === 0)
    return { check, status: 'ok', detail: `available on all ${kubelets.value.size} node(s)` };
  return {
    check,
    status: 'warn',
    detail: `kubelet older than 1.${nativeMinor} on ${old.map(([n, v]) => `${n} (${v})`).join(', ')}: the webhook injects a plain container`,
  };
}

/** The exit status of `check`: 1 when a line failed, else 3 when a line could not be verified, else 0. */
export const checkStatus = (lines: readonly CheckLine[]): number => {
  if (lines.some((l) => l.status === 'fail')) return 1;
  return lines.some((l) => l.status === 'unknown') ? 3 : 0;
};
