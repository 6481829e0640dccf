/**
 * The serving certificate follows its files: a Secret rotated by the kubelet (an atomic swap of the `..data`
 * symlink), or files replaced by hand. New connections get the new certificate through
 * `server.setSecureContext`; connections in flight keep theirs. A half-written pair (new certificate, old key)
 * is skipped until both match.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Log } from '@sidecar-destruct/core';

export interface CertificatePair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export async function readPair(certFile: string, keyFile: string): Promise<CertificatePair> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { cert, key };
}

const fingerprint = (pair: CertificatePair): string =>
  createHash('sha256').update(pair.cert).update(pair.key).digest('hex');

/**
 * Calls `apply` whenever the files hold a new, consistent pair. Watches both directories and also polls every
 * `pollMs`, since file events are not delivered on every filesystem. Returns a function that stops watching.
 */
export function followCertificate(
  certFile: string,
  keyFile: string,
  initial: CertificatePair,
  apply: (pair: CertificatePair) => void,
  log: Pick<Log, 'info' | 'warn'>,
  pollMs = 10_000,
): () => void {
  let current = fingerprint(initial);
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      const pair = await readPair(certFile, keyFile);
      const next = fingerprint(pair);
      if (next === current) return;
      try {
        createSecureContext({ cert: pair.cert, key: pair.key });
      } catch (e) {
        log.warn(
          { error: (e as Error).message },
          'serving certificate and key do not match yet; keeping the current pair',
        );
        return;
      }
      apply(pair);
      current = next;
      log.info({ certFile }, 'serving certificate reloaded');
    } catch (e) {
      log.warn(
        { error: (e as Error).message },
        'cannot read the serving certificate; keeping the current pair',
      );
    } finally {
      checking = false;
    }
  };
  const watchers: FSWatcher[] = [...new Set([dirname(certFile), dirname(keyFile)])].map((dir) => {
    const watcher = watch(dir, { persistent: false }, () => void check());
    watcher.on('error', () => {});
    return watcher;
  });
  const timer = setInterval(() => void check(), pollMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const w of watchers) w.close();
  };
}
