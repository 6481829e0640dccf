/**
 * `sidecar-destruct webhook`: parse the config once, serve HTTPS on 0.0.0.0 (probes reach the pod IP), follow
 * the certificate files, keep `auto` mode's view of the cluster fresh, and on SIGTERM stop taking new reviews,
 * finish the ones in flight and exit.
 */

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import { err, kubeConfigSource, loadKubeConfig, ok, type Result } from '@sidecar-destruct/core';
import { buildApp } from './app.js';
import { ClusterWorkers } from './cluster-workers.js';
import { type Config, parseConfig, WEBHOOK_HELP, wantsHelp } from './pure/config.js';
import { closeWithin } from './shutdown.js';
import { followCertificate, readPair } from './tls.js';

/**
 * Reviews in flight get this long to finish after SIGTERM before their connections are closed by force: well
 * inside the Deployment's terminationGracePeriodSeconds (30 s), which ends in SIGKILL.
 */
const SHUTDOWN_DEADLINE_MS = 20_000;

type Pair = Awaited<ReturnType<typeof readPair>>;

/** The config and the serving certificate, or the exit status after saying what is wrong. */
async function startup(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Result<{ config: Config; pair: Pair }, number>> {
  const parsed = parseConfig(argv, env);
  if (!parsed.ok) {
    for (const problem of parsed.error) process.stderr.write(`sidecar-destruct webhook: ${problem}\n`);
    return err(2);
  }
  const config = parsed.value;
  try {
    return ok({ config, pair: await readPair(config.tlsCertFile, config.tlsKeyFile) });
  } catch (e) {
    process.stderr.write(
      `sidecar-destruct webhook: cannot read --tls-cert-file / --tls-key-file: ${(e as Error).message}\n`,
    );
    return err(2);
  }
}

/**
 * The API client, found as every command finds it (core/src/kubeconfig.ts), its own account first when it runs in a
 * pod: --kubeconfig, the pod's account, KUBECONFIG, ~/.kube/config. Without one the webhook still injects, and says
 * why it cannot watch.
 */
function connect(config: Config, env: NodeJS.ProcessEnv): ClusterWorkers {
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const source = kubeConfigSource(config.kubeconfig || undefined, env, existsSync(home) ? home : undefined, {
    inClusterFirst: true,
  });
  if (!source.ok) return new ClusterWorkers(config, undefined, source.error);
  try {
    return new ClusterWorkers(
      config,
      loadKubeConfig(() => new KubeConfig(), source.value, undefined, existsSync),
      '',
    );
  } catch (e) {
    return new ClusterWorkers(config, undefined, (e as Error).message);
  }
}

const signalled = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(WEBHOOK_HELP);
    return 0;
  }
  const started = await startup(argv, env);
  if (!started.ok) return started.error;
  const { config, pair } = started.value;
  const cluster = connect(config, env);
  let draining = false;
  const { fastify } = buildApp({
    config,
    https: pair,
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      base: { component: 'sidecar-destruct-webhook' },
    },
    mode: () => cluster.mode(),
    ensureAccount: cluster.ensureAccount,
    sidecarImage: () => cluster.sidecarImage(),
    ready: () => !draining && cluster.configured(),
  });
  const log = fastify.log;
  cluster.start(log);

  try {
    await fastify.listen({ host: config.host, port: config.port });
  } catch (e) {
    log.error({ error: (e as Error).message }, `cannot listen on ${config.host}:${config.port}`);
    return 1;
  }
  const server = fastify.server as unknown as TlsServer;
  const stopFollowing = followCertificate(
    config.tlsCertFile,
    config.tlsKeyFile,
    pair,
    (next) => server.setSecureContext({ cert: next.cert, key: next.key }),
    log,
  );

  const signal = await signalled();
  draining = true;
  log.info({ signal }, 'draining: finishing reviews in flight');
  stopFollowing();
  void cluster.stop();
  const how = await closeWithin(fastify, SHUTDOWN_DEADLINE_MS);
  log.info({ how }, 'stopped');
  return 0;
}
