import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, createServingCertificate, serviceDnsNames } from '../src/pki.js';
import { caBundle, plan } from '../src/plan.js';

const now = new Date('2026-11-24T12:00:00Z');
const DAY = 86_400_000;
const dnsNames = serviceDnsNames('sidecar-destruct-webhook', 'sidecar-destruct-system');
const policy = { now, dnsNames, renewBeforeDays: 30 };
const ca = createCertificateAuthority('test CA', { validityDays: 3650, now });
const serving = createServingCertificate(ca, { dnsNames, validityDays: 365, now });
const kinds = (steps: ReturnType<typeof plan>) => steps.map((s) => s.kind);

describe('certificate plan', () => {
  it('creates everything on a fresh install', () => {
    expect(kinds(plan({ caBundles: [''] }, policy))).toEqual([
      'create-ca',
      'issue-serving',
      'patch-ca-bundle',
    ]);
  });

  it('changes nothing on a healthy install', () => {
    expect(plan({ ca, serving, caBundles: [ca.certPem, ca.certPem] }, policy)).toEqual([]);
  });

  it('renews an expiring serving certificate with the same CA', () => {
    const later = { ...policy, now: new Date(now.getTime() + 340 * DAY) };
    expect(kinds(plan({ ca, serving, caBundles: [ca.certPem] }, later))).toEqual(['issue-serving']);
  });

  it('re-issues a certificate that does not cover the Service names', () => {
    const other = createServingCertificate(ca, { dnsNames: ['elsewhere.svc'], validityDays: 365, now });
    expect(plan({ ca, serving: other, caBundles: [ca.certPem] }, policy)).toEqual([
      { kind: 'issue-serving', why: expect.stringContaining('does not cover') },
    ]);
  });

  it('re-issues a certificate signed by another CA', () => {
    const stranger = createServingCertificate(
      createCertificateAuthority('other', { validityDays: 10, now }),
      { dnsNames, validityDays: 365, now },
    );
    expect(kinds(plan({ ca, serving: stranger, caBundles: [ca.certPem] }, policy))).toEqual([
      'issue-serving',
    ]);
  });

  it('puts the CA back into a caBundle that lost it', () => {
    expect(kinds(plan({ ca, serving, caBundles: [ca.certPem, ''] }, policy))).toEqual(['patch-ca-bundle']);
  });

  it('replaces an expiring CA, and keeps the old one in the bundle while it is valid', () => {
    const shortCa = createCertificateAuthority('short', { validityDays: 20, now });
    expect(kinds(plan({ ca: shortCa, serving, caBundles: [shortCa.certPem] }, policy))).toEqual([
      'create-ca',
      'issue-serving',
      'patch-ca-bundle',
    ]);
    const bundle = caBundle(ca.certPem, shortCa.certPem, now);
    expect(bundle).toContain(ca.certPem.trim());
    expect(bundle).toContain(shortCa.certPem.trim());
    expect(caBundle(ca.certPem, shortCa.certPem, new Date(now.getTime() + 30 * DAY))).not.toContain(
      shortCa.certPem.trim(),
    );
  });

  it('issues serving certificates for the Service names, signed by the CA', () => {
    const cert = new X509Certificate(serving.certPem);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:sidecar-destruct-webhook.sidecar-destruct-system.svc');
    expect(cert.subjectAltName).toContain(
      'DNS:sidecar-destruct-webhook.sidecar-destruct-system.svc.cluster.local',
    );
  });
});
