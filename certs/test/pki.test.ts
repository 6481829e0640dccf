import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { serialNumber } from '../src/pki.js';

/** A self-signed certificate with the given serial, parsed by OpenSSL (through Node) as an API server's Go would. */
function parsesWithSerial(serial: string, keys: forge.pki.rsa.KeyPair): boolean {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial;
  cert.validity.notBefore = new Date('2026-11-24T00:00:00Z');
  cert.validity.notAfter = new Date('2026-11-25T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'serial' }]);
  cert.setIssuer(cert.subject.attributes);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  try {
    return new X509Certificate(forge.pki.certificateToPem(cert)).serialNumber.length > 0;
  } catch {
    return false;
  }
}

describe('certificate serial numbers', () => {
  // Random first bytes that used to give a serial OpenSSL refuses ("illegal padding") or a negative one.
  const awkward = [
    [0x00, 0x70],
    [0x00, 0x00],
    [0x00, 0xff],
    [0x80, 0x00],
    [0xff, 0xff],
    [0x7f, 0x00],
  ].map(([first = 0, second = 0]) => {
    const random = new Uint8Array(16).fill(0x11);
    random[0] = first;
    random[1] = second;
    return random;
  });

  it('is 16 bytes, positive, and in its shortest form whatever the random bytes', () => {
    for (const random of awkward) expect(serialNumber(random)).toMatch(/^[4-7][0-9a-f]{31}$/);
  });

  it('gives certificates that OpenSSL parses, where the random bytes start with a zero byte', () => {
    const keys = forge.pki.rsa.generateKeyPair({ bits: 1024 });
    for (const random of awkward) {
      expect(parsesWithSerial(serialNumber(random), keys), `random bytes ${random[0]}, ${random[1]}`).toBe(
        true,
      );
    }
    // The encoding this replaced: a "0" before the random hex. One certificate in 512 came out unparseable.
    expect(parsesWithSerial(`0${'0070'}${'11'.repeat(14)}`, keys)).toBe(false);
  });
});
