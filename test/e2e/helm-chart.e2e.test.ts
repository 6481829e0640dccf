/**
 * The Helm chart (deploy/helm/sidecar-destruct) is deploy/ again, not a second recipe: real `helm template` (v4,
 * and v3 which the chart supports too) and real `kubectl kustomize` render both, and the objects are compared one
 * by one. Allowed differences: Helm's own labels on every object; the Namespace, which Helm users create
 * with --create-namespace; and whitespace in the admission policies' CEL expressions, which kustomize re-emits
 * from their folded YAML scalars with a blank line where a line is more indented (CEL reads both alike). Values change what they name and nothing else; bad values are refused by
 * values.schema.json with a message naming the key; `helm lint --strict` is clean.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp as copy, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { helmBinary, startLocalRegistry } from '@sidecar-destruct/infra';
import { controlPlaneBinaries, DEPLOY_DIR } from '@sidecar-destruct/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);
const CHART = join(DEPLOY_DIR, 'helm/sidecar-destruct');
const NAMESPACE = 'sidecar-destruct-system';
/** The newest Kubernetes version the tests run (a `go install`ed Helm 3 would otherwise assume v1.20). */
const KUBE_VERSION = readFileSync(join(DEPLOY_DIR, '../testkit/controlplane/versions'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .at(-1);
/** The labels Helm's conventions add; deploy/ does not carry them. */
const HELM_LABELS = [
  'helm.sh/chart',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
];

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: object };
  [field: string]: unknown;
}

let helm: string;
let helm3: string;
let kubectl: string;

beforeAll(async () => {
  [helm, helm3, kubectl] = await Promise.all([
    helmBinary(4),
    helmBinary(3),
    controlPlaneBinaries().then((dir) => join(dir, 'kubectl')),
  ]);
}, 600_000);

const objects = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
/** CEL expressions with each run of whitespace as one space (see the header). */
const celWhitespace = (value: unknown, field = ''): unknown => {
  if (typeof value === 'string')
    return field === 'expression' || field === 'messageExpression' ? value.replace(/\s+/g, ' ') : value;
  if (Array.isArray(value)) return value.map((v) => celWhitespace(v));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celWhitespace(v, k)]));
  return value;
};
const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (list: Obj[]) => Object.fromEntries(list.map((o) => [key(o), celWhitespace(o)]));

async function template(args: readonly string[] = [], binary = helm): Promise<Obj[]> {
  const { stdout } = await run(binary, [
    'template',
    'sidecar-destruct',
    CHART,
    '--namespace',
    NAMESPACE,
    `--kube-version=${KUBE_VERSION}`,
    ...args,
  ]);
  return objects(stdout);
}

/** Helm's failure, as its user sees it. */
async function refused(args: readonly string[]): Promise<string> {
  try {
    await template(args);
  } catch (e) {
    return (e as { stderr: string }).stderr;
  }
  throw new Error(`helm template ${args.join(' ')} succeeded`);
}

async function kustomized(dir: string): Promise<Obj[]> {
  const { stdout } = await run(kubectl, ['kustomize', join(DEPLOY_DIR, dir)]);
  return objects(stdout).filter((o) => o.kind !== 'Namespace');
}

/** The chart's objects with Helm's labels taken off, after checking that every object carries them. */
function withoutHelmLabels(list: Obj[]): Obj[] {
  return list.map((o) => {
    const labels = { ...o.metadata.labels };
    expect(labels, key(o)).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
    for (const l of HELM_LABELS) delete labels[l];
    const { labels: _, ...metadata } = o.metadata;
    return { ...o, metadata: Object.keys(labels).length > 0 ? { ...metadata, labels } : metadata };
  });
}

const find = (list: Obj[], kind: string, name: string): Obj => {
  const o = list.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const webhookContainer = (list: Obj[]) =>
  (
    find(list, 'Deployment', 'sidecar-destruct-webhook') as unknown as {
      spec: {
        replicas: number;
        template: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } };
      };
    }
  ).spec;

describe('the Helm chart', () => {
  it.each([
    ['job (default)', [], 'base'],
    ['cert-manager', ['--set', 'certificates.mode=cert-manager'], 'overlays/cert-manager'],
  ] as const)(
    'renders exactly deploy/ with certificates by %s, under Helm 4 and Helm 3',
    async (_, args, dir) => {
      const expected = byKey(await kustomized(dir));
      for (const binary of [helm, helm3]) {
        expect(byKey(withoutHelmLabels(await template(args, binary)))).toEqual(expected);
      }
    },
  );

  it('changes what the values name, and nothing else', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const plain = await template();
    const changed = await template([
      ...['--set', 'webhook.image.registry=registry.example.com', '--set', 'webhook.image.tag=9.9.9'],
      ...['--set', `sidecar.image.digest=${digest}`, '--set', 'webhook.replicas=3'],
      ...['--set', 'webhook.logLevel=debug', '--set', 'sidecar.resources.memoryLimit=128Mi'],
      ...['--set', 'webhook.priorityClassName=system-cluster-critical', '--set', 'commonLabels.team=home'],
      ...['--set', 'webhook.nodeSelector.kubernetes\\.io/arch=arm64'],
    ]);
    const spec = webhookContainer(changed);
    expect(spec.replicas).toBe(3);
    expect(spec.template.spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    const container = spec.template.spec.containers[0];
    expect(container?.image).toBe('registry.example.com/sidecar-destruct/webhook:9.9.9');
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: 'LOG_LEVEL', value: 'debug' },
        { name: 'SIDECAR_MEMORY_LIMIT', value: '128Mi' },
      ]),
    );
    // The sidecar image is where the webhook and the admission policy both read it, pinned by digest.
    expect((find(changed, 'ConfigMap', 'sidecar-destruct-config') as { data?: object }).data).toEqual({
      sidecarImage: `ghcr.io/sidecar-destruct/sidecar@${digest}`,
    });
    // The certificate Job runs the webhook's image too.
    expect(JSON.stringify(find(changed, 'Job', 'sidecar-destruct-certs'))).toContain(
      'registry.example.com/sidecar-destruct/webhook:9.9.9',
    );
    for (const o of changed) expect(o.metadata.labels?.team, key(o)).toBe('home');
    // Every other object is what it was.
    const touched = new Set(['Deployment', 'ConfigMap', 'Job', 'CronJob']);
    const untouched = (list: Obj[]) =>
      list
        .filter((o) => !touched.has(o.kind))
        .map((o) => ({
          ...o,
          metadata: { ...o.metadata, labels: { ...o.metadata.labels, team: undefined } },
        }));
    expect(JSON.parse(JSON.stringify(untouched(changed)))).toEqual(
      JSON.parse(JSON.stringify(untouched(plain))),
    );
  });

  it('refuses unknown keys and wrong types, naming the key', async () => {
    expect(await refused(['--set', 'webhook.replica=3'])).toMatch(/replica/);
    expect(await refused(['--set', 'webhook.replicas=two'])).toMatch(/replicas/);
    expect(await refused(['--set', 'webhook.logLevel=loud'])).toMatch(/logLevel/);
    expect(await refused(['--set', 'certificates.mode=vault'])).toMatch(/mode/);
    expect(await refused(['--set', 'sidecar.image.digest=latest'])).toMatch(/digest/);
  });

  it('refuses another namespace, saying which one it needs', async () => {
    try {
      await run(helm, ['template', 'sidecar-destruct', CHART, '--namespace', 'default']);
      throw new Error('rendered into default');
    } catch (e) {
      expect((e as { stderr: string }).stderr).toContain(
        '--namespace sidecar-destruct-system --create-namespace',
      );
    }
  });

  it('passes helm lint --strict with either certificate mode', async () => {
    for (const mode of ['job', 'cert-manager']) {
      const { stdout } = await run(helm, [
        ...['lint', '--strict', CHART, '--namespace', NAMESPACE],
        ...['--set', `certificates.mode=${mode}`],
      ]);
      expect(stdout).toContain('0 chart(s) failed');
    }
  });

  it('packages to the same bytes from another checkout, and an OCI registry serves that package back', async () => {
    const work = await mkdtemp(join(tmpdir(), 'sidecar-destruct-chart-'));
    const registry = await startLocalRegistry();
    try {
      const sha = async (file: string) =>
        createHash('sha256')
          .update(await readFile(file))
          .digest('hex');
      /** deploy/helm/package.sh of the checkout at `root`, run under `umask`. */
      const packaged = async (root: string, umask = '022') => {
        const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
        await mkdir(out);
        const script = join(root, 'deploy/helm/package.sh');
        const { stdout } = await run('bash', ['-c', `umask ${umask} && exec bash "$0" "$1"`, script, out], {
          env: { ...process.env, HELM: helm },
        });
        return stdout.trim();
      };
      const here = await packaged(join(DEPLOY_DIR, '..'));
      // Every file dated 2000-01-01, whenever the checkout was made.
      const { stdout: listing } = await run('tar', ['-tzvf', here, '--full-time']);
      const entries = listing.trim().split('\n');
      expect(entries.length).toBeGreaterThan(10);
      for (const entry of entries) expect(entry).toContain(' 2000-01-01 ');
      // Another checkout: the same files, written now (other dates), group-writable and packaged under umask 002.
      const other = join(work, 'checkout');
      await copy(DEPLOY_DIR, join(other, 'deploy'), { recursive: true, verbatimSymlinks: true });
      await copy(join(DEPLOY_DIR, '../infra/tools'), join(other, 'infra/tools'), { recursive: true });
      await run('chmod', ['-R', 'g+w', other]);
      expect(await sha(await packaged(other, '002'))).toBe(await sha(here));

      const reference = `oci://${registry.host}/charts`;
      await run(helm, ['push', here, reference, '--plain-http']);
      const pulled = join(work, 'pulled');
      await mkdir(pulled);
      await run(helm, [
        ...[
          'pull',
          `${reference}/sidecar-destruct`,
          '--version',
          '0.1.0',
          '--plain-http',
          '--destination',
          pulled,
        ],
      ]);
      expect(await sha(join(pulled, 'sidecar-destruct-0.1.0.tgz'))).toBe(await sha(here));
    } finally {
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});
