/**
 * Should this admission request get the sidecar? A pure function of the request and the config, returning a
 * reason code; one table turns the codes into sentences for logs, warnings and metrics (as linkerd's injector
 * report does).
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  isEmptyRule,
  POD_INJECT_LABEL,
  parsePod,
  type Rule,
  ruleOf,
  type Settings,
  STATUS_ANNOTATION,
  settingsOf,
} from '@sidecar-destruct/core';
import { isExcludedNamespace } from './grants.js';
import type { AdmissionRequest } from './review.js';

export type Reason =
  | 'not-a-pod'
  | 'not-create'
  | 'subresource'
  | 'excluded-namespace'
  | 'opted-out'
  | 'already-injected'
  | 'nothing-to-enforce'
  | 'invalid-pod'
  | 'invalid-annotation'
  | 'inject';

export const REASONS: Record<Reason, string> = {
  'not-a-pod': 'not a Pod: allowed unchanged',
  'not-create': 'not a CREATE: allowed unchanged',
  subresource: 'a subresource request: allowed unchanged',
  'excluded-namespace': 'kube-* namespaces and the webhook namespace are never injected',
  'opted-out': `the pod opted out (${POD_INJECT_LABEL}=false)`,
  'already-injected': `the pod already carries the sidecar (${STATUS_ANNOTATION})`,
  'nothing-to-enforce':
    'sidecar-destruct: the pod has no nodeSelector, no required node affinity and no sidecar-destruct.io/selector annotation, so there is nothing to enforce; no sidecar was added',
  'invalid-pod': 'the request object is not a valid Pod',
  'invalid-annotation': 'an annotation of the pod is invalid',
  inject: 'injected the sidecar',
};

/**
 * What admission does with the request: let it through unchanged, refuse it, `mark` it (a pod with nothing to
 * enforce gets the status annotation saying so, through a patch, and a warning; no sidecar), or inject the sidecar.
 */
export type AdmissionAction =
  | {
      readonly action: 'allow';
      readonly reason: Exclude<Reason, 'inject' | 'invalid-annotation' | 'invalid-pod'>;
    }
  | {
      readonly action: 'deny';
      readonly reason: 'invalid-annotation' | 'invalid-pod';
      readonly message: string;
    }
  | { readonly action: 'mark'; readonly reason: 'nothing-to-enforce'; readonly pod: V1Pod }
  | {
      readonly action: 'inject';
      readonly reason: 'inject';
      readonly pod: V1Pod;
      readonly rule: Rule;
      readonly settings: Settings;
    };

export function shouldInject(request: AdmissionRequest, ownNamespace: string): AdmissionAction {
  if (request.resource.resource !== 'pods' || request.resource.group !== '' || request.kind.kind !== 'Pod') {
    return { action: 'allow', reason: 'not-a-pod' };
  }
  if (request.subResource) return { action: 'allow', reason: 'subresource' };
  if (request.operation !== 'CREATE') return { action: 'allow', reason: 'not-create' };
  const namespace = request.namespace ?? '';
  if (isExcludedNamespace(namespace, ownNamespace)) return { action: 'allow', reason: 'excluded-namespace' };
  const parsed = parsePod(request.object);
  if (!parsed.ok)
    return {
      action: 'deny',
      reason: 'invalid-pod',
      message: `sidecar-destruct: request.object: ${parsed.error}`,
    };
  const pod = parsed.value;
  if (pod.metadata?.labels?.[POD_INJECT_LABEL] === 'false') return { action: 'allow', reason: 'opted-out' };
  if (pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined)
    return { action: 'allow', reason: 'already-injected' };

  const rule = ruleOf(pod);
  const settings = settingsOf(pod.metadata?.annotations);
  const problems = [...(rule.ok ? [] : [rule.error]), ...(settings.ok ? [] : settings.error)];
  if (!rule.ok || !settings.ok) {
    return {
      action: 'deny',
      reason: 'invalid-annotation',
      message: `sidecar-destruct: ${problems.join('; ')}`,
    };
  }
  if (isEmptyRule(rule.value)) return { action: 'mark', reason: 'nothing-to-enforce', pod };
  return { action: 'inject', reason: 'inject', pod, rule: rule.value, settings: settings.value };
}
