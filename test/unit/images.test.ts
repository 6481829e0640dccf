/**
 * No Docker engine runs here, so the image files are checked by reading them: every COPY source exists (in
 * the repository, or as an output of the build stage that the project's own bundle step makes), the base is
 * node:24-alpine, the user is not root, and the sidecar runs with the Node flags the harness measures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SIDECAR_NODE_FLAGS } from '@sidecar-destruct/sidecar/main';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

describe.each(['sidecar/Containerfile', 'webhook/Containerfile'])('%s', (file) => {
  const text = read(file);
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));

  it('builds on node:24-alpine and runs as a non-root user', () => {
    expect(lines.filter((l) => l.startsWith('FROM')).every((l) => l.includes('node:24-alpine'))).toBe(true);
    expect(text).toMatch(/^USER 65532:65532$/m);
  });

  it('copies only files that exist, from the repository or from the build stage', () => {
    const copies = lines.filter((l) => l.startsWith('COPY'));
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1);
      const fromStage = parts[0]?.startsWith('--from=');
      const sources = parts.filter((p) => !p.startsWith('--')).slice(0, -1);
      for (const source of sources) {
        // Build-stage paths are /src/<repo path>; the bundle step made them in this checkout too (npm test builds).
        const path = fromStage ? source.replace(/^\/src\//, '') : source;
        expect(existsSync(`${ROOT}${path}`), `${file}: ${line}`).toBe(true);
      }
    }
  });
});

describe('the images', () => {
  it('run the sidecar with the flags the harness and the benchmark use', () => {
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(read('sidecar/Containerfile'))?.[1] ?? '[]';
    expect(JSON.parse(entrypoint)).toEqual(['node', ...SIDECAR_NODE_FLAGS, '/app/sidecar.cjs']);
  });

  it('are built for amd64, arm64 and arm/v7 by the build script the CI workflow calls', () => {
    const script = read('scripts/build-images.sh');
    expect(script).toContain('linux/amd64,linux/arm64,linux/arm/v7');
    expect(script).toContain('for image in webhook sidecar; do');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell script's own variable, read as text
    expect(script).toContain('--file "${image}/Containerfile"');
    expect(read('.github/workflows/images.yml')).toContain('scripts/build-images.sh');
  });

  it('are the images deploy/ runs', () => {
    const deploy =
      read('deploy/base/webhook.yaml') + read('deploy/base/certs-job.yaml') + read('deploy/base/config.yaml');
    expect(deploy).toContain('ghcr.io/sidecar-destruct/webhook:0.1.0');
    expect(deploy).toContain('ghcr.io/sidecar-destruct/sidecar:0.1.0');
  });
});
