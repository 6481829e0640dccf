/**
 * The images have one definition, images/build.sh (go-containerregistry assembles them; no container engine),
 * which the real-node suite builds and runs on a real kubelet. These checks keep the other files that name
 * images pointing at it: no second recipe that nothing tests, the names deploy/ runs, the workflow and the
 * compose file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SIDECAR_RUNTIME } from '@sidecar-destruct/sidecar/main';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

describe('the images', () => {
  const definition = read('images/build.sh');

  it('have one definition, which the build script users run calls', () => {
    expect(read('scripts/build-images.sh')).toContain('images/build.sh');
  });

  it('run as uid 65532 for amd64 and arm64, the sidecar with the flags the harness and the benchmark use', () => {
    expect(definition).toContain('"user\\":\\"65532:65532\\"');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell script's own variable, read as text
    expect(definition).toContain('PLATFORMS="${PLATFORMS:-linux/amd64,linux/arm64}"');
    // The entrypoint's flags and env are read from the built sidecar package, not copied.
    expect(definition).toContain('m.SIDECAR_RUNTIME');
    const code = definition
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    expect(SIDECAR_RUNTIME.flags.length).toBeGreaterThan(0);
    for (const flag of SIDECAR_RUNTIME.flags) expect(code).not.toContain(flag);
    for (const name of Object.keys(SIDECAR_RUNTIME.env)) expect(code).not.toContain(name);
  });

  it('are built and pushed by the CI workflow through the same script', () => {
    const workflow = read('.github/workflows/images.yml');
    expect(workflow).toContain('bash scripts/build-images.sh');
    expect(workflow).not.toContain('buildx');
  });

  it('are what docker-compose.yml loads into k3s, from the archives the definition writes', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toContain('sidecar.oci.tar:/var/lib/rancher/k3s/agent/images/sidecar.oci.tar');
    expect(compose).toContain('webhook.oci.tar:/var/lib/rancher/k3s/agent/images/webhook.oci.tar');
    expect(compose).not.toContain('build:');
  });

  it('are the images deploy/ runs', () => {
    const deploy =
      read('deploy/base/webhook.yaml') + read('deploy/base/certs-job.yaml') + read('deploy/base/config.yaml');
    expect(deploy).toContain('ghcr.io/sidecar-destruct/webhook:0.1.0');
    expect(deploy).toContain('ghcr.io/sidecar-destruct/sidecar:0.1.0');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell script's own variable, read as text
    expect(definition).toContain('REGISTRY="${REGISTRY:-ghcr.io/sidecar-destruct}"');
  });
});
