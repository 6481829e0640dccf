/**
 * The webhook as a local process, registered with the API server through deploy/'s manifests (their
 * MutatingWebhookConfiguration pointed at https://127.0.0.1:PORT with our CA), running with the credentials of
 * deploy/'s webhook ServiceAccount, so that its RBAC is the one under test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyPair } from '@sidecar-destruct/certs';
import { INSTALL_NAMESPACE } from '@sidecar-destruct/core';
import {
  apply,
  type ControlPlane,
  freePort,
  localWebhookConfiguration,
  loopbackServingCertificate,
  type Manifest,
  policiesInForce,
  readManifests,
  serviceAccountKubeconfig,
} from '@sidecar-destruct/testkit';

const CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
export const WEBHOOK_NAMESPACE = INSTALL_NAMESPACE;
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
  const { ca, serving, reissue } = loopbackServingCertificate('sidecar-destruct e2e CA');
  const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await installCertificate(tls, serving);
  const configuration = await installDeployBase(cp);
  const kubeconfig = await serviceAccountKubeconfig(
    cp,
    WEBHOOK_NAMESPACE,
    'sidecar-destruct-webhook',
    join(dir, 'kubeconfig'),
    7200,
  );

  const webhook = new WebhookProcess({
    command: options.command ?? [process.execPath, CLI],
    flags: (port) => webhookFlags(port, tls, kubeconfig, extraFlags),
    logFile: join(dir, 'webhook.log'),
    caPem: ca.certPem,
    readyWithinMs: options.readyWithinMs ?? 20_000,
  });
  await webhook.startOnFreePort();
  const url = `https://127.0.0.1:${webhook.port}/mutate`;
  await apply(cp, [localWebhookConfiguration(configuration, url, ca.certPem)]);

  return {
    url,
    ca,
    rotateCertificate: () => installCertificate(tls, reissue()),
    start: () => webhook.start(),
    stop: () => webhook.stop(),
  };
}

interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Writes a serving key pair in place of the last one, each file replaced in one step, as a Secret update does. */
async function installCertificate({ certFile, keyFile }: TlsFiles, pair: KeyPair): Promise<void> {
  await writeFile(`${keyFile}.new`, pair.keyPem, { mode: 0o600 });
  await writeFile(`${certFile}.new`, pair.certPem);
  await rename(`${keyFile}.new`, keyFile);
  await rename(`${certFile}.new`, certFile);
}

/**
 * Applies deploy/base but its webhook configuration, waits until the API server enforces the admission policies,
 * and returns the webhook configuration, for the caller to register once the webhook answers.
 */
async function installDeployBase(cp: ControlPlane): Promise<Manifest> {
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
  return configuration;
}

/** `sidecar-destruct webhook`'s flags: on loopback, with the files above, then the caller's. */
function webhookFlags(
  port: number,
  tls: TlsFiles,
  kubeconfig: string,
  extraFlags: readonly string[],
): string[] {
  return [
    'webhook',
    '--host=127.0.0.1',
    `--port=${port}`,
    `--tls-cert-file=${tls.certFile}`,
    `--tls-key-file=${tls.keyFile}`,
    `--kubeconfig=${kubeconfig}`,
    `--sidecar-image=${TEST_SIDECAR_IMAGE}`,
    // As deploy/ runs it: the image follows sidecar-destruct-config, which the admission policies read.
    '--config-map=sidecar-destruct-config',
    ...extraFlags,
  ];
}

interface WebhookLaunch {
  /** The program that runs `sidecar-destruct` and its first arguments. */
  readonly command: readonly string[];
  readonly flags: (port: number) => readonly string[];
  /** Every start appends to it. */
  readonly logFile: string;
  readonly caPem: string;
  readonly readyWithinMs: number;
}

/** The webhook's process: started (again, on the same port) until /readyz answers, and stopped. */
class WebhookProcess {
  port = 0;
  private child: ChildProcess | undefined;
  private readonly log: WriteStream;

  constructor(private readonly launch: WebhookLaunch) {
    this.log = createWriteStream(launch.logFile, { flags: 'a' });
  }

  /**
   * A port found free can be taken by an outgoing connection before the webhook binds it (both come from the
   * ephemeral range): try another one. Later restarts keep the port, which the configuration names.
   */
  async startOnFreePort(): Promise<void> {
    this.port = await freePort();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        return;
      } catch (e) {
        if (attempt >= 3) throw e;
        this.port = await freePort();
      }
    }
  }

  async start(): Promise<void> {
    const [program, ...prefix] = this.launch.command;
    const child = spawn(program ?? process.execPath, [...prefix, ...this.launch.flags(this.port)], {
      env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: WEBHOOK_NAMESPACE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    await this.untilHealthy(child);
  }

  async stop(): Promise<void> {
    const running = this.child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((r) => running.once('exit', r));
    running.kill('SIGTERM');
    await exited;
  }

  /** Polls /readyz; fails with the end of the log when the process exits, or when it is not ready in time. */
  private async untilHealthy(child: ChildProcess): Promise<void> {
    const { caPem, readyWithinMs, logFile } = this.launch;
    const deadline = Date.now() + readyWithinMs;
    while (!(await healthy(this.port, caPem))) {
      if (child.exitCode !== null) {
        const text = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(
          `the webhook exited (${child.exitCode}): ${text.trim().split('\n').slice(-3).join(' | ')}`,
        );
      }
      if (Date.now() > deadline) throw new Error(`the webhook is not ready after ${readyWithinMs / 1_000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
