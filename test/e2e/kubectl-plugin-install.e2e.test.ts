/**
 * `kubectl sidecar-destruct check` on an install made as the README says (`kubectl apply -k deploy/`) on the
 * real node, from the shipped images: healthy, every line passes; then broken three ways, one at a time, and each
 * time exactly the line for that cause fails.
 */
import { spawn } from 'node:child_process';
import type { V1Secret } from '@kubernetes/client-node';
import { createServingCertificate, serviceDnsNames } from '@sidecar-destruct/certs';
import {
  buildRealNode,
  type RealNode,
  type RunningWebhook,
  WEBHOOK_NAMESPACE,
} from '@sidecar-destruct/infra';
import { apply, type ControlPlane, DEPLOY_DIR, MERGE_PATCH, readManifests } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enabledNamespace, eventually, expectStatus, realNodeCluster, realNodeLeft } from './fixtures.js';
import { buildPlugin, type Ran } from './plugin-fixtures.js';

const SKIP = process.env.SIDECAR_DESTRUCT_REAL_NODE === '0';
const DEPLOYMENT = `/apis/apps/v1/namespaces/${WEBHOOK_NAMESPACE}/deployments/sidecar-destruct-webhook`;
const SERVING = `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/secrets/sidecar-destruct-webhook-tls`;
const BINDINGS = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings';

let cp: ControlPlane;
let webhook: RunningWebhook;
let node: RealNode;
let plugin: string;

interface Line {
  readonly check: string;
  readonly status: string;
  readonly detail: string;
}

/** `check -o json` as the cluster's admin; its exit status and lines. */
function check(): Promise<{ code: number | null; lines: Line[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(plugin, ['check', '-o', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: cp.kubeconfig },
    });
    const ran = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => {
      ran.stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      ran.stderr += c.toString();
    });
    child.on('exit', (code) => {
      const out: Ran = { code, ...ran };
      try {
        resolve({ code, lines: JSON.parse(out.stdout).checks });
      } catch {
        reject(new Error(`check printed no JSON (exit ${code}): ${out.stderr}${out.stdout}`));
      }
    });
  });
}

const failing = (lines: readonly Line[]) => lines.filter((l) => l.status === 'fail').map((l) => l.check);

/** The webhook Deployment with `replicas` replicas, all Ready (0: none left). */
async function webhookReplicas(replicas: number): Promise<void> {
  await expectStatus(
    cp.rest('PATCH', `${DEPLOYMENT}/scale`, { spec: { replicas } }, { contentType: MERGE_PATCH }),
    200,
  );
  await eventually(async () => {
    const d = await expectStatus(cp.rest('GET', DEPLOYMENT), 200);
    expect(d.status?.readyReplicas ?? 0).toBe(replicas);
    expect(d.status?.replicas ?? 0).toBe(replicas);
  }, 120_000);
}

beforeAll(async () => {
  if (SKIP) return;
  const build = await buildRealNode();
  plugin = await buildPlugin();
  ({ cp, webhook, node } = await realNodeCluster('pi-plugin', build));
  // The webhook runs in the cluster from the shipped image, as users install it: the local process goes.
  await webhook.stop();
  await cp.kubectl(['delete', 'mutatingwebhookconfiguration', 'sidecar-destruct', '--ignore-not-found']);
  await cp.kubectl(['apply', '-k', DEPLOY_DIR]);
  await eventually(async () => {
    const d = await expectStatus(cp.rest('GET', DEPLOYMENT), 200);
    expect(d.status?.readyReplicas).toBe(d.spec?.replicas);
  }, 180_000);
  await enabledNamespace(cp, 'home');
}, 1_800_000);

afterAll(async () => {
  if (SKIP) return;
  await node?.stop();
  await cp?.stop();
  const left = await realNodeLeft(node);
  if (left.length > 0) throw new Error(`the real node left state on the host:\n${left.join('\n')}`);
}, 120_000);

describe.skipIf(SKIP)('check on an install from deploy/, on the real node', () => {
  it('passes every line of a healthy install, the dry-run pod injected through the in-cluster webhook', async () => {
    const { code, lines } = await eventually(async () => {
      const result = await check();
      expect(result.lines.filter((l) => l.status !== 'ok')).toEqual([]);
      return result;
    }, 60_000);
    expect(code).toBe(0);
    expect(lines.find((l) => l.check === 'webhook reachable')?.detail).toBe(
      'a dry-run pod in home was injected by the webhook',
    );
  });

  it('fails exactly the endpoints line when the webhook is scaled to 0', async () => {
    await webhookReplicas(0);
    const { code, lines } = await eventually(async () => {
      const result = await check();
      expect(failing(result.lines)).toEqual(['webhook endpoints']);
      return result;
    }, 60_000);
    expect(code).toBe(1);
    expect(lines.find((l) => l.check === 'webhook reachable')?.status).toBe('skip');
    await webhookReplicas(2);
  });

  it('fails exactly the policies line, naming the binding, when one is deleted', async () => {
    await expectStatus(cp.rest('DELETE', `${BINDINGS}/sidecar-destruct-grant`), 200);
    const { code, lines } = await check();
    expect(failing(lines)).toEqual(['admission policies']);
    expect(lines.find((l) => l.check === 'admission policies')?.detail).toBe(
      'ValidatingAdmissionPolicyBinding sidecar-destruct-grant is missing',
    );
    expect(code).toBe(1);
    const manifests = await readManifests('base/admission-policies.yaml');
    await apply(
      cp,
      manifests.filter(
        (m) => m.kind === 'ValidatingAdmissionPolicyBinding' && m.metadata.name === 'sidecar-destruct-grant',
      ),
    );
    expect(failing((await check()).lines)).toEqual([]);
  });

  it('fails exactly the certificate line when the serving certificate has expired', async () => {
    const ca = (await expectStatus(
      cp.rest('GET', `/api/v1/namespaces/${WEBHOOK_NAMESPACE}/secrets/sidecar-destruct-ca`),
      200,
    )) as V1Secret;
    const pem = (key: string) => Buffer.from(ca.data?.[key] ?? '', 'base64').toString('utf8');
    const expired = createServingCertificate(
      { certPem: pem('tls.crt'), keyPem: pem('tls.key') },
      {
        dnsNames: serviceDnsNames('sidecar-destruct-webhook', WEBHOOK_NAMESPACE),
        validityDays: 1,
        now: new Date(Date.now() - 10 * 86_400_000),
      },
    );
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await expectStatus(
      cp.rest(
        'PATCH',
        SERVING,
        { data: { 'tls.crt': b64(expired.certPem), 'tls.key': b64(expired.keyPem) } },
        {
          contentType: MERGE_PATCH,
        },
      ),
      200,
    );
    const { code, lines } = await check();
    expect(failing(lines)).toEqual(['serving certificate']);
    expect(lines.find((l) => l.check === 'serving certificate')?.detail).toMatch(
      /^expired on \d{4}-\d\d-\d\d/,
    );
    expect(lines.find((l) => l.check === 'webhook reachable')?.status).toBe('skip');
    expect(code).toBe(1);
  });
});
