/**
 * The sidecar's runtime on this machine: the `bun` binary scripts/bun.sh brings into the cache, the same version
 * (.bun-version) the sidecar image ships. Every sidecar the harness starts, and so the e2e suites, the benchmarks
 * and the demo, runs on it: one runtime for the sidecar everywhere.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SIDECAR_RUNTIME } from '@sidecar-destruct/sidecar/main';

export { SIDECAR_RUNTIME };

const SCRIPT = fileURLToPath(new URL('../../scripts/bun.sh', import.meta.url));
let resolved: string | undefined;

/** The path of the sidecar's runtime for this machine's architecture (fetched on first use; `npm run setup` does it too). */
export function sidecarRuntime(): string {
  resolved ??= execFileSync('bash', [SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return resolved;
}
