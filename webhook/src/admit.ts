/** One admission request, start to answer: decide → inject → patch, plus the account on the way out. */
import type { V1Pod } from '@kubernetes/client-node';
import fastJsonPatch from 'fast-json-patch';
import type { EnsureAccount } from './accounts.js';
import type { Outcome } from './metrics.js';
import type { Config } from './pure/config.js';
import { notGrantedWarning } from './pure/grants.js';
import { inject, markNothingToEnforce } from './pure/inject.js';
import { type AdmissionRequest, type AdmissionReview, allowed, denied, patched } from './pure/review.js';
import { decide, REASONS, type Reason } from './pure/should-inject.js';

export interface AdmitDeps {
  readonly config: Config;
  /** The sidecar mode to use now (auto resolved from the cluster, or forced). */
  readonly mode: () => 'native' | 'container';
  readonly ensureAccount: EnsureAccount;
}

export interface Admission {
  readonly review: AdmissionReview;
  readonly outcome: Outcome;
  readonly reason: Reason;
  /** Something went wrong on the way that the metrics count (the answer still went out). */
  readonly error?: string;
}

/** The JSON patch from `original` to `mutated`: computed, never written by hand. */
export function createPatch(original: V1Pod, mutated: V1Pod): fastJsonPatch.Operation[] {
  return fastJsonPatch.compare(original, mutated);
}

export async function admit(request: AdmissionRequest, deps: AdmitDeps): Promise<Admission> {
  const decision = decide(request, deps.config.namespace);
  switch (decision.action) {
    case 'allow':
      return { review: allowed(request.uid), outcome: 'allowed', reason: decision.reason };
    case 'deny':
      return {
        review: denied(request.uid, 400, decision.message),
        outcome: 'denied',
        reason: decision.reason,
      };
    case 'skip':
      return {
        review: patched(request.uid, createPatch(decision.pod, markNothingToEnforce(decision.pod)), [
          REASONS['nothing-to-enforce'],
        ]),
        outcome: 'allowed',
        reason: decision.reason,
      };
    case 'inject': {
      const { config } = deps;
      const injected = inject(decision.pod, decision.rule, decision.settings, {
        image: config.image,
        imagePullPolicy: config.imagePullPolicy,
        mode: deps.mode(),
        serviceAccountName: config.serviceAccountName,
        resources: config.resources,
      });
      const warnings = [...injected.warnings];
      let error: string | undefined;
      // sideEffects: NoneOnDryRun — a dry run shows the mutation but creates nothing.
      if (!request.dryRun) {
        const ensured = await deps.ensureAccount(
          request.namespace ?? '',
          injected.serviceAccountName,
          injected.serviceAccountName === config.serviceAccountName,
        );
        if (!ensured.ok) {
          error = ensured.error;
          warnings.push(`sidecar-destruct: ${ensured.error}; the sidecar may lack the permissions to act`);
        } else if (ensured.value) {
          warnings.push(notGrantedWarning(ensured.value.account, ensured.value.dedicated));
        }
      }
      return {
        review: patched(request.uid, createPatch(decision.pod, injected.pod), warnings),
        outcome: 'injected',
        reason: 'inject',
        ...(error ? { error } : {}),
      };
    }
  }
}
