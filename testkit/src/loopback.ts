/**
 * A certificate for a server on this machine's loopback interface (localhost, 127.0.0.1), from a CA of its own,
 * both valid for a day: what the local harness's webhook and fault proxy, and the tests' scripted HTTPS servers,
 * present. Never what a cluster gets: that is `sidecar-destruct certs` (certs/src/bootstrap.ts).
 */
import { createCertificateAuthority, createServingCertificate, type KeyPair } from '@sidecar-destruct/certs';

export interface LoopbackCertificate {
  readonly ca: KeyPair;
  readonly serving: KeyPair;
  /** Another serving certificate from the same CA, as a rotation issues it. */
  reissue(): KeyPair;
}

/** `alsoAt`: more addresses the loopback is reached at (a qemu guest reaches it at 10.0.2.2). */
export function loopbackServingCertificate(
  caName = 'sidecar-destruct test CA',
  alsoAt: readonly string[] = [],
): LoopbackCertificate {
  const ca = createCertificateAuthority(caName, { validityDays: 1 });
  const reissue = (): KeyPair =>
    createServingCertificate(ca, {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', ...alsoAt],
      validityDays: 1,
    });
  return { ca, serving: reissue(), reissue };
}
