/**
 * AdmissionReview in and out (admission.k8s.io/v1), as controller-runtime's admission package does it: parse
 * the request once into a typed value or a clear error, and answer through a handful of constructors that always
 * echo the uid.
 */
import { err, isObject, ok, type Result } from '@sidecar-destruct/core';
import type { Operation } from 'fast-json-patch';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly operation: string;
  readonly object?: unknown;
  readonly dryRun: boolean;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: { readonly code: number; readonly message: string; readonly reason?: string };
  readonly patch?: string;
  readonly patchType?: 'JSONPatch';
  readonly warnings?: readonly string[];
}

export interface AdmissionReview {
  readonly apiVersion: typeof REVIEW_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/** The request of an AdmissionReview body; the error says what is wrong, for a 400. */
export function parseReview(body: unknown): Result<AdmissionRequest> {
  if (!isObject(body)) return err('the body is not a JSON object');
  if (body.kind !== 'AdmissionReview')
    return err(`kind must be "AdmissionReview", found ${JSON.stringify(body.kind ?? null)}`);
  if (body.apiVersion !== REVIEW_API_VERSION) {
    return err(
      `apiVersion must be "${REVIEW_API_VERSION}", found ${JSON.stringify(body.apiVersion ?? null)}`,
    );
  }
  const request = body.request;
  if (!isObject(request)) return err('request is missing');
  const uid = text(request.uid);
  if (!uid) return err('request.uid is missing');
  const kind = request.kind;
  const resource = request.resource;
  if (!isObject(kind) || typeof kind.kind !== 'string') return err('request.kind is missing');
  if (!isObject(resource) || typeof resource.resource !== 'string') return err('request.resource is missing');
  const operation = text(request.operation);
  if (!operation) return err('request.operation is missing');
  if ((operation === 'CREATE' || operation === 'UPDATE') && !isObject(request.object)) {
    return err(`request.object is missing for ${operation}`);
  }
  const subResource = text(request.subResource);
  const namespace = text(request.namespace);
  const name = text(request.name);
  return ok({
    uid,
    kind: { group: text(kind.group) ?? '', version: text(kind.version) ?? '', kind: kind.kind },
    resource: {
      group: text(resource.group) ?? '',
      version: text(resource.version) ?? '',
      resource: resource.resource,
    },
    ...(subResource ? { subResource } : {}),
    ...(namespace ? { namespace } : {}),
    ...(name ? { name } : {}),
    operation,
    object: request.object,
    dryRun: request.dryRun === true,
  });
}

const review = (response: AdmissionResponse): AdmissionReview => ({
  apiVersion: REVIEW_API_VERSION,
  kind: 'AdmissionReview',
  response,
});
const withWarnings = (warnings: readonly string[]) => (warnings.length > 0 ? { warnings } : {});

export const allowed = (uid: string, warnings: readonly string[] = []): AdmissionReview =>
  review({ uid, allowed: true, ...withWarnings(warnings) });

export const denied = (uid: string, code: number, message: string): AdmissionReview =>
  review({ uid, allowed: false, status: { code, message } });

/** Allowed with a JSON patch; an empty patch is sent as a plain allow (nothing to change). */
export const patched = (
  uid: string,
  patch: readonly Operation[],
  warnings: readonly string[] = [],
): AdmissionReview =>
  patch.length === 0
    ? allowed(uid, warnings)
    : review({
        uid,
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
        ...withWarnings(warnings),
      });

/** An unexpected failure while handling the request: refused with a 500 message and no stack trace. */
export const errored = (uid: string, message: string): AdmissionReview =>
  review({ uid, allowed: false, status: { code: 500, message, reason: 'InternalError' } });
