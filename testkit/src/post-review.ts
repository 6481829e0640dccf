/** One POST of a review to a webhook over TLS: what the tests and the admission benchmark send. */
import { type Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Posted {
  readonly status: number;
  readonly text: string;
  /** The serial number of the certificate the server presented. */
  readonly serial: string;
}

export interface PostOptions {
  readonly port: number;
  readonly body: string;
  /** The CA to verify the server with; without it the certificate is not checked (a benchmark's own server). */
  readonly ca?: string;
  /** A keep-alive agent; default: a new connection for this request. */
  readonly agent?: Agent;
}

export function postReview(options: PostOptions): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: '/mutate',
        method: 'POST',
        ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
        agent: options.agent ?? false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, serial }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
