/** Admin requests to the API server: the e2e suites' way to create and patch objects, without kubectl's start-up. */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';

export interface Reply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary Kubernetes JSON
  readonly body: any;
  /** The response headers (admission warnings arrive as `warning`). */
  readonly headers?: IncomingHttpHeaders;
}

export type Rest = (
  method: string,
  path: string,
  body?: unknown,
  options?: { readonly contentType?: string; readonly token?: string },
) => Promise<Reply>;

/**
 * A body that is only `{ token }` is a credential passed in the body's place: the request would go out as admin
 * and an attack would appear to succeed. Refused, so that a security test cannot report a bypass that is not one.
 */
function isMisplacedToken(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'token' in body;
}

export function restClient(server: string, ca: Buffer, adminToken: string): Rest {
  return (method, path, body, options = {}) =>
    new Promise((resolve, reject) => {
      if (isMisplacedToken(body)) {
        throw new Error(`${method} ${path}: a body with a token; pass the token as the fourth argument`);
      }
      // A token asked for but missing (an undefined from a failed TokenRequest) must not fall back to admin.
      if ('token' in options && (typeof options.token !== 'string' || options.token === '')) {
        throw new Error(`${method} ${path}: an empty token; the request would go as admin`);
      }
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        new URL(path, server),
        {
          method,
          ca,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${options.token ?? adminToken}`,
            // Content-Length explicitly: Node sends a DELETE body without it (see sidecar/src/api.ts).
            ...(payload === undefined
              ? {}
              : {
                  'content-type': options.contentType ?? 'application/json',
                  'content-length': String(Buffer.byteLength(payload)),
                }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
}

/** Merge patch content type, for label changes. */
export const MERGE_PATCH = 'application/merge-patch+json';
