/**
 * What the certificate bootstrap must do, as a pure function of what exists: keep a healthy install untouched,
 * renew before expiry with the same CA, replace the CA only when it is itself about to expire (keeping the old
 * one in the caBundle while it is valid, so running API servers trust both during the switch).
 */
import { X509Certificate } from 'node:crypto';

export interface Existing {
  /** The CA's certificate and key (a Secret that only the bootstrap reads). */
  readonly ca?: { readonly certPem: string; readonly keyPem: string };
  /** The serving certificate the webhook mounts. */
  readonly serving?: { readonly certPem: string; readonly keyPem: string };
  /** The caBundle of every webhook of the MutatingWebhookConfiguration (PEM, decoded). */
  readonly caBundles: readonly string[];
}

export interface Policy {
  readonly now: Date;
  readonly dnsNames: readonly string[];
  /** Renew what expires within this many days. */
  readonly renewBeforeDays: number;
}

export type Step =
  | { readonly kind: 'create-ca'; readonly why: string }
  | { readonly kind: 'issue-serving'; readonly why: string }
  | { readonly kind: 'patch-ca-bundle'; readonly why: string };

const DAY_MS = 86_400_000;

function parse(pem: string | undefined): X509Certificate | undefined {
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

const expiresSoon = (cert: X509Certificate, policy: Policy): boolean =>
  new Date(cert.validTo).getTime() - policy.now.getTime() < policy.renewBeforeDays * DAY_MS;

const names = (cert: X509Certificate): string[] =>
  (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));

/** The steps, in order; an empty list means the install is healthy. */
export function plan(existing: Existing, policy: Policy): Step[] {
  const steps: Step[] = [];
  const ca = parse(existing.ca?.certPem);
  let newCa = false;
  if (!ca || !existing.ca?.keyPem) {
    steps.push({ kind: 'create-ca', why: 'no CA yet' });
    newCa = true;
  } else if (expiresSoon(ca, policy)) {
    steps.push({ kind: 'create-ca', why: `the CA expires on ${ca.validTo}` });
    newCa = true;
  }

  const serving = parse(existing.serving?.certPem);
  if (newCa) steps.push({ kind: 'issue-serving', why: 'signed by the new CA' });
  else if (!serving || !existing.serving?.keyPem)
    steps.push({ kind: 'issue-serving', why: 'no serving certificate yet' });
  else if (ca && !serving.checkIssued(ca))
    steps.push({ kind: 'issue-serving', why: 'not signed by the current CA' });
  else if (expiresSoon(serving, policy))
    steps.push({ kind: 'issue-serving', why: `it expires on ${serving.validTo}` });
  else if (policy.dnsNames.some((n) => !names(serving).includes(n))) {
    steps.push({ kind: 'issue-serving', why: `it does not cover ${policy.dnsNames.join(', ')}` });
  }

  const bundleHasCa = (bundle: string) =>
    ca !== undefined && bundle.includes(existing.ca?.certPem.trim() ?? '\u0000');
  if (newCa || existing.caBundles.length === 0 || !existing.caBundles.every(bundleHasCa)) {
    steps.push({ kind: 'patch-ca-bundle', why: newCa ? 'a new CA' : 'the caBundle does not hold the CA' });
  }
  return steps;
}

/** The caBundle to install: the CA, and the previous CA while it is still valid. */
export function caBundle(caPem: string, previousCaPem: string | undefined, now: Date): string {
  const previous = parse(previousCaPem);
  const keep = previous && previousCaPem?.trim() !== caPem.trim() && new Date(previous.validTo) > now;
  return keep ? `${caPem.trim()}\n${previousCaPem?.trim()}\n` : `${caPem.trim()}\n`;
}
