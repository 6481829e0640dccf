import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/pure/config.js';

const required = ['--tls-cert-file', 'c.pem', '--tls-key-file', 'k.pem'];

describe('webhook configuration', () => {
  it('has documented defaults', () => {
    const parsed = parseConfig(required, {});
    expect(parsed.ok && parsed.value).toMatchObject({
      port: 8443,
      sidecarMode: 'auto',
      sidecarModeFallback: 'container',
      serviceAccountName: 'sidecar-destruct',
    });
  });

  it('reads the environment, and flags win over it', () => {
    const parsed = parseConfig(['--port', '9443'], {
      TLS_CERT_FILE: 'a',
      TLS_KEY_FILE: 'b',
      PORT: '1',
      SIDECAR_MODE: 'native',
    });
    expect(parsed.ok && parsed.value).toMatchObject({ port: 9443, tlsCertFile: 'a', sidecarMode: 'native' });
  });

  it.each([
    [['--port', 'x'], '--port / PORT: "x" is not valid'],
    [
      ['--sidecar-mode', 'sometimes'],
      '--sidecar-mode / SIDECAR_MODE: "sometimes" is not valid; use auto, native, container',
    ],
    [['--sidecar-memory-limit', 'lots'], '--sidecar-memory-limit / SIDECAR_MEMORY_LIMIT'],
    [['--frobnicate', '1'], "Unknown option '--frobnicate'"],
  ])('refuses %j, naming the setting', (flags, message) => {
    const parsed = parseConfig([...required, ...flags], {});
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.join('\n')).toContain(message);
  });

  it('requires the serving certificate', () => {
    const parsed = parseConfig([], {});
    expect(!parsed.ok && parsed.error).toEqual([
      '--tls-cert-file / TLS_CERT_FILE is required',
      '--tls-key-file / TLS_KEY_FILE is required',
    ]);
  });
});
