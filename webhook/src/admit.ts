/** One admission request, start to answer: should inject? → inject → patch, plus the account on the way out. */
import type { V1Pod } from '@kubernetes/client-node';
import { err, type Result } from '@sidecar-destruct/core';
import fastJsonPatch from 'fast-json-patch';
import type { EnsureAccount, NotGranted } from './accounts.js';
import type { AdmissionOutcome } from './metrics.js';
import type { Config } from './pure/config.js';
import { notGrantedWarning } from './pure/grants.js';
import { inject, markNothingToEnforce } from './pure/inject.js';
import { type AdmissionRequest, type AdmissionReview, allowed, denied, patched } from './pure/review.js';
import { type AdmissionAction, REASONS, type Reason, shouldInject } from './pure/should-inject.js';

export interface AdmitDeps {
  readonly config: Config;
  /** The sidecar mode to use now (auto resolved from the cluster, or forced). */
  readonly mode: () => 'native' | 'container';
  readonly ensureAccount: EnsureAccount;
  /** The sidecar image to inject now (the watched ConfigMap's, see cluster-workers.ts); config.image without one. */
  readonly sidecarImage?: () => string;
}

export interface Admission {
  readonly review: AdmissionReview;
  readonly outcome: AdmissionOutcome;
  readonly reason: Reason;
  /** Something went wrong on the way that the metrics count (the answer still went out). */
  readonly error?: string;
}

/**
 * How long a review may take before it is answered without waiting any longer for the API server: the API server
 * gives the webhook `timeoutSeconds: 5` (deploy/base/mutatingwebhook.yaml) and, past it, admits the pod unseen
 * (failurePolicy Ignore), which the policy require-injection then refuses. A second is left for the answer's way back.
 */
export const ADMISSION_DEADLINE_MS = 4_000;

/** Resolves with `error` when `signal` aborts, so that a call that ignores the signal cannot hold the answer. */
function whenAborted<T>(signal: AbortSignal, error: string): Promise<Result<T>> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(err(error));
    else signal.addEventListener('abort', () => resolve(err(error)), { once: true });
  });
}

/** The JSON patch from `original` to `mutated`: computed, never written by hand. */
export function createPatch(original: V1Pod, mutated: V1Pod): fastJsonPatch.Operation[] {
  return fastJsonPatch.compare(original, mutated);
}

/** `deadline` aborts when the review must be answered; what has not finished by then is reported, not awaited. */
export async function admit(
  request: AdmissionRequest,
  deps: AdmitDeps,
  deadline: AbortSignal = AbortSignal.timeout(ADMISSION_DEADLINE_MS),
): Promise<Admission> {
  const todo = shouldInject(request, deps.config.namespace);
  switch (todo.action) {
    case 'allow':
      return { review: allowed(request.uid), outcome: 'allowed', reason: todo.reason };
    case 'deny':
      return {
        review: denied(request.uid, 400, todo.message),
        outcome: 'denied',
        reason: todo.reason,
      };
    case 'mark':
      return {
        review: patched(request.uid, createPatch(todo.pod, markNothingToEnforce(todo.pod)), [
          REASONS['nothing-to-enforce'],
        ]),
        outcome: 'allowed',
        reason: todo.reason,
      };
    case 'inject':
      return injectAndEnsure(request, todo, deps, deadline);
  }
}

/**
 * The sidecar added, and the pod's account checked (and bound) on the way out; a dry run creates nothing. What
 * the account check could not do by the deadline becomes a warning, never a late answer.
 */
async function injectAndEnsure(
  request: AdmissionRequest,
  injection: Extract<AdmissionAction, { action: 'inject' }>,
  deps: AdmitDeps,
  deadline: AbortSignal,
): Promise<Admission> {
  const { config } = deps;
  const injected = inject(injection.pod, injection.rule, injection.settings, {
    image: deps.sidecarImage?.() ?? config.image,
    imagePullPolicy: config.imagePullPolicy,
    mode: deps.mode(),
    serviceAccountName: config.serviceAccountName,
    resources: config.resources,
  });
  const warnings = [...injected.warnings];
  let error: string | undefined;
  // sideEffects: NoneOnDryRun — a dry run shows the mutation but creates nothing.
  if (!request.dryRun) {
    const account = injected.serviceAccountName;
    const ensured = await Promise.race([
      deps.ensureAccount(request.namespace ?? '', account, account === config.serviceAccountName, deadline),
      whenAborted<NotGranted | undefined>(
        deadline,
        `the admission deadline passed before the ServiceAccount ${account} was checked`,
      ),
    ]);
    if (!ensured.ok) {
      error = ensured.error;
      warnings.push(`sidecar-destruct: ${ensured.error}; the sidecar may lack the permissions to act`);
    } else if (ensured.value) {
      warnings.push(notGrantedWarning(ensured.value.account, ensured.value.dedicated));
    }
  }
  return {
    review: patched(request.uid, createPatch(injection.pod, injected.pod), warnings),
    outcome: 'injected',
    reason: 'inject',
    ...(error ? { error } : {}),
  };
}
