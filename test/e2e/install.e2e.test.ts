/**
 * Installing from deploy/ on a real API server, and the certificate bootstrap run with the RBAC deploy/ gives it.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ControlPlane,
  DEPLOY_DIR,
  serviceAccountKubeconfig,
  startControlPlane,
} from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from './fixtures.js';

const CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
let cp: ControlPlane;
let dir: string;

beforeAll(async () => {
  cp = await startControlPlane();
  dir = await mkdtemp(join(cp.dir, 'install-'));
});
afterAll(async () => cp?.stop());

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** A kubeconfig for a ServiceAccount of deploy/, so that its RBAC is what is tested. */
const kubeconfigFor = (namespace: string, account: string): Promise<string> =>
  serviceAccountKubeconfig(cp, namespace, account, join(dir, `${account}.kubeconfig`));

const secretVersions = async () =>
  Promise.all(
    ['sidecar-destruct-ca', 'sidecar-destruct-webhook-tls'].map(
      async (name) =>
        (
          await expectStatus(
            cp.rest('GET', `/api/v1/namespaces/sidecar-destruct-system/secrets/${name}`),
            200,
          )
        ).metadata.resourceVersion,
    ),
  );

describe('kubectl apply -k deploy/', () => {
  it('is accepted whole by the API server, server-side', async () => {
    const out = await cp.kubectl(['apply', '--server-side', '-k', DEPLOY_DIR]);
    for (const kind of [
      'namespace',
      'deployment.apps',
      'mutatingwebhookconfiguration',
      'validatingadmissionpolicy',
      'job.batch',
      'cronjob.batch',
    ]) {
      expect(out).toContain(kind);
    }
    expect(out).not.toMatch(/error/i);
  });

  it('renders the cert-manager overlay without the certificate Job', async () => {
    const out = await cp.kubectl(['kustomize', `${DEPLOY_DIR}overlays/cert-manager`]);
    expect(out).toContain('cert-manager.io/inject-ca-from: sidecar-destruct-system/sidecar-destruct-webhook');
    expect(out).not.toContain('kind: Job');
    expect(out).not.toContain('kind: CronJob');
  });
});

describe('deploy/nfd', () => {
  it('whitelists the USB classes of the examples in a node-feature-discovery install', async () => {
    const nfd = join(dir, 'nfd');
    await mkdir(nfd);
    // A stand-in for NFD's own worker ConfigMap: the component patches whatever NFD release it is combined with.
    await writeFile(
      join(nfd, 'worker-conf.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: nfd-worker-conf, namespace: node-feature-discovery }\ndata: { nfd-worker.conf: "" }\n',
    );
    await writeFile(
      join(nfd, 'kustomization.yaml'),
      // kustomize wants a relative path to a component.
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [worker-conf.yaml]\ncomponents: [${relative(nfd, `${DEPLOY_DIR}nfd`)}]\n`,
    );
    const out = await cp.kubectl(['kustomize', '--load-restrictor=LoadRestrictionsNone', nfd]);
    expect(out).toContain('deviceClassWhitelist: ["02", "03", "0e", "ef", "fe", "ff"]');
  });
});

describe('sidecar-destruct certs, with the certificate Job RBAC', () => {
  /** `sidecar-destruct certs` as the certificate Job's account, with 10-day certificates renewed 5 days ahead. */
  const certsAsJob = async (...extra: string[]) =>
    cli([
      'certs',
      '--kubeconfig',
      await kubeconfigFor('sidecar-destruct-system', 'sidecar-destruct-certs'),
      '--validity-days',
      '10',
      '--renew-before-days',
      '5',
      ...extra,
    ]);

  it('creates the CA, the serving certificate and the caBundle on the first run', async () => {
    const run = await certsAsJob('--out-dir', dir);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain('create-ca');
    const configuration = await expectStatus(
      cp.rest('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/sidecar-destruct'),
      200,
    );
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    for (const webhook of configuration.webhooks) {
      expect(Buffer.from(webhook.clientConfig.caBundle, 'base64').toString()).toContain(ca.trim());
    }
    const serving = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    expect(serving.subjectAltName).toContain('DNS:sidecar-destruct-webhook.sidecar-destruct-system.svc');
    expect(serving.checkIssued(new X509Certificate(ca))).toBe(true);
  });

  it('changes nothing on a healthy install', async () => {
    const before = await secretVersions();
    const run = await certsAsJob();
    expect(run.code, run.out).toBe(0);
    expect(run.out).toContain('nothing changed');
    expect(await secretVersions()).toEqual(before);
  });

  it('renews an expiring certificate with the same CA', async () => {
    const kubeconfig = await kubeconfigFor('sidecar-destruct-system', 'sidecar-destruct-certs');
    const caBefore = await readFile(join(dir, 'ca.crt'), 'utf8');
    const servingBefore = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    // 10 days left, renewed when under 30.
    const run = await cli(['certs', '--kubeconfig', kubeconfig, '--out-dir', dir]);
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/issue-serving: it expires on/);
    expect(run.out).not.toContain('create-ca');
    const servingAfter = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    expect(servingAfter.serialNumber).not.toBe(servingBefore.serialNumber);
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe(caBefore);
    expect(servingAfter.checkIssued(new X509Certificate(caBefore))).toBe(true);
  });

  it('says what is wrong, and exits non-zero, on bad input', async () => {
    const kubeconfig = await kubeconfigFor('sidecar-destruct-system', 'sidecar-destruct-certs');
    const missingNs = await cli(['certs', '--kubeconfig', kubeconfig, '--namespace', 'nowhere']);
    expect(missingNs.code).not.toBe(0);
    expect(missingNs.out).toMatch(/namespace nowhere/);
    const missingConfig = await cli([
      'certs',
      '--webhook-configuration',
      'absent',
      '--kubeconfig',
      cp.kubeconfig,
    ]);
    expect(missingConfig.code).not.toBe(0);
    expect(missingConfig.out).toContain('MutatingWebhookConfiguration absent');
    const noRights = await cli([
      'certs',
      '--kubeconfig',
      await kubeconfigFor('sidecar-destruct-system', 'sidecar-destruct-webhook'),
    ]);
    expect(noRights.code).not.toBe(0);
    expect(noRights.out).toContain('no permission');
    const badFlag = await cli(['certs', '--validity-days', 'soon']);
    expect(badFlag.code).toBe(2);
  });

  it('writes the private key 0600', async () => {
    expect((await stat(join(dir, 'tls.key'))).mode & 0o777).toBe(0o600);
  });
});
