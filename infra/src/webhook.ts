/**
 * The webhook as a local process, registered with the API server through deploy/'s manifests (their
 * MutatingWebhookConfiguration pointed at https://127.0.0.1:PORT with our CA), running with the credentials of
 * deploy/'s webhook ServiceAccount, so that its RBAC is the one under test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyPair } from '@sidecar-destruct/certs';
import {
  apply,
  type ControlPlane,
  freePort,
  localWebhookConfiguration,
  loopbackServingCertificate,
  policiesInForce,
  readManifests,
  serviceAccountKubeconfig,
} from '@sidecar-destruct/testkit';

const CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
export const WEBHOOK_NAMESPACE = 'sidecar-destruct-system';
export const TEST_SIDECAR_IMAGE = 'sidecar-destruct/sidecar:dev';

export interface RunningWebhook {
  readonly url: string;
  readonly ca: KeyPair;
  /** Installs a new serving certificate (same CA) the way a Secret update does. */
  rotateCertificate(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function healthy(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export interface WebhookOptions {
  /**
   * The command that runs `sidecar-destruct` instead of this process's node and cli/dist (e.g. the webhook image's
   * own runtime and bundle under qemu-user); the harness appends `webhook` and its flags.
   */
  readonly command?: readonly string[];
  /** How long the webhook may take to answer /readyz after it starts (default 20 s; emulation needs more). */
  readonly readyWithinMs?: number;
}

/** Installs deploy/base (RBAC, policies, webhook configuration) and starts the webhook. */
export async function startWebhook(
  cp: ControlPlane,
  extraFlags: readonly string[] = [],
  options: WebhookOptions = {},
): Promise<RunningWebhook> {
  const dir = join(cp.dir, 'webhook');
  await mkdir(dir, { recursive: true });
  let port = await freePort();
  const { ca, serving: first, reissue } = loopbackServingCertificate('sidecar-destruct e2e CA');
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const install = async (pair: KeyPair): Promise<void> => {
    await writeFile(`${keyFile}.new`, pair.keyPem, { mode: 0o600 });
    await writeFile(`${certFile}.new`, pair.certPem);
    await rename(`${keyFile}.new`, keyFile);
    await rename(`${certFile}.new`, certFile);
  };
  await install(first);

  await apply(cp, await readManifests('base/namespace.yaml'));
  // The ConfigMap the admission policies read: the image this webhook injects.
  await apply(
    cp,
    (await readManifests('base/config.yaml')).map((m) => ({
      ...m,
      data: { ...m.data, sidecarImage: TEST_SIDECAR_IMAGE },
    })),
  );
  for (const file of ['sidecar-rbac.yaml', 'webhook-rbac.yaml', 'admission-policies.yaml']) {
    await apply(cp, await readManifests(`base/${file}`));
  }
  // The suites try the policies at once: wait until the API server enforces them.
  await policiesInForce(cp);
  const [configuration] = await readManifests('base/mutatingwebhook.yaml');
  if (!configuration) throw new Error('deploy/base/mutatingwebhook.yaml is empty');

  const kubeconfig = await serviceAccountKubeconfig(
    cp,
    WEBHOOK_NAMESPACE,
    'sidecar-destruct-webhook',
    join(dir, 'kubeconfig'),
    7200,
  );

  let child: ChildProcess | undefined;
  const log = createWriteStream(join(dir, 'webhook.log'), { flags: 'a' });
  const start = async (): Promise<void> => {
    const [program, ...prefix] = options.command ?? [process.execPath, CLI];
    child = spawn(
      program ?? process.execPath,
      [
        ...prefix,
        'webhook',
        '--host=127.0.0.1',
        `--port=${port}`,
        `--tls-cert-file=${certFile}`,
        `--tls-key-file=${keyFile}`,
        `--kubeconfig=${kubeconfig}`,
        `--sidecar-image=${TEST_SIDECAR_IMAGE}`,
        // As deploy/ runs it: the image follows sidecar-destruct-config, which the admission policies read.
        '--config-map=sidecar-destruct-config',
        ...extraFlags,
      ],
      {
        env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: WEBHOOK_NAMESPACE },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const readyWithinMs = options.readyWithinMs ?? 20_000;
    const deadline = Date.now() + readyWithinMs;
    while (!(await healthy(port, ca.certPem))) {
      if (child.exitCode !== null) {
        const text = await readFile(join(dir, 'webhook.log'), 'utf8').catch(() => '');
        throw new Error(
          `the webhook exited (${child.exitCode}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`the webhook is not ready after ${readyWithinMs / 1_000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // A port found free can be taken by an outgoing connection before the webhook binds it (both come from the
  // ephemeral range): try another one. Later restarts keep the port, which the configuration names.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (e) {
      if (attempt >= 3) throw e;
      port = await freePort();
    }
  }
  const url = `https://127.0.0.1:${port}/mutate`;
  await apply(cp, [localWebhookConfiguration(configuration, url, ca.certPem)]);

  return {
    url,
    ca,
    rotateCertificate: () => install(reissue()),
    start,
    stop: async () => {
      const running = child;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((r) => running.once('exit', r));
      running.kill('SIGTERM');
      await exited;
    },
  };
}
