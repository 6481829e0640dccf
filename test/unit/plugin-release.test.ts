/**
 * The kubectl plugin's release holds together: the workflow builds with the script the suites run, and the krew
 * manifest offers exactly the platforms that script builds, under the archive names it writes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8');

describe('the kubectl plugin release', () => {
  const script = read('scripts/build-plugin.sh');
  const built = (/--all" \] && platforms="([^"]+)"/.exec(script)?.[1] ?? '').split(' ');
  const manifest = read('plugins/sidecar-destruct.yaml');

  it('is built on a tag by the script the suites run, for all four platforms', () => {
    const workflow = read('.github/workflows/images.yml');
    expect(workflow).toMatch(/tags: \["v\*"\]/);
    expect(workflow).toContain('bash scripts/build-plugin.sh --all');
    expect(workflow).toContain('krew_template_file: plugins/sidecar-destruct.yaml');
    expect(built.sort()).toEqual(['darwin/amd64', 'darwin/arm64', 'linux/amd64', 'linux/arm64']);
  });

  it('is offered by krew for exactly those platforms, each its own archive and the one executable name', () => {
    const offered = [...manifest.matchAll(/matchLabels: \{ os: (\w+), arch: (\w+) \}/g)].map(
      (m) => `${m[1]}/${m[2]}`,
    );
    expect(offered.sort()).toEqual([...built].sort());
    for (const platform of built)
      expect(manifest).toContain(`kubectl-sidecar_destruct-${platform.replace('/', '-')}.tar.gz`);
    expect(script).toContain('kubectl-sidecar_destruct-$os-$arch.tar.gz');
    expect([...manifest.matchAll(/bin: (\S+)/g)].map((m) => m[1])).toEqual(
      built.map(() => 'kubectl-sidecar_destruct'),
    );
  });
});
