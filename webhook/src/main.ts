/**
 * `sidecar-destruct webhook`: parse the config once, serve HTTPS on 0.0.0.0 (probes reach the pod IP), follow
 * the certificate files, keep `auto` mode's view of the cluster fresh, and on SIGTERM stop taking new reviews,
 * finish the ones in flight and exit.
 */
import type { Server as TlsServer } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { err } from '@sidecar-destruct/core';
import { accountEnsurer, type EnsureAccount, kubeConfigOrInCluster } from './accounts.js';
import { buildApp } from './app.js';
import { parseConfig, WEBHOOK_HELP, wantsHelp } from './pure/config.js';
import { type ClusterVersions, resolveMode } from './pure/mode.js';
import { startReconciler } from './reconcile.js';
import { closeWithin } from './shutdown.js';
import { followCertificate, readPair } from './tls.js';
import { readClusterVersions } from './versions.js';
import { type AccountView, watchAccounts } from './view.js';

const VERSION_REFRESH_MS = 5 * 60_000;
/**
 * Reviews in flight get this long to finish after SIGTERM before their connections are closed by force: well
 * inside the Deployment's terminationGracePeriodSeconds (30 s), which ends in SIGKILL.
 */
const SHUTDOWN_DEADLINE_MS = 20_000;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(WEBHOOK_HELP);
    return 0;
  }
  const parsed = parseConfig(argv, env);
  if (!parsed.ok) {
    for (const problem of parsed.error) process.stderr.write(`sidecar-destruct webhook: ${problem}\n`);
    return 2;
  }
  const config = parsed.value;
  let pair: Awaited<ReturnType<typeof readPair>>;
  try {
    pair = await readPair(config.tlsCertFile, config.tlsKeyFile);
  } catch (e) {
    process.stderr.write(
      `sidecar-destruct webhook: cannot read --tls-cert-file / --tls-key-file: ${(e as Error).message}\n`,
    );
    return 2;
  }

  let kubeConfig: KubeConfig | undefined;
  let clientProblem = '';
  try {
    kubeConfig = kubeConfigOrInCluster(config.kubeconfig);
  } catch (e) {
    clientProblem = (e as Error).message;
  }
  let view: AccountView | undefined;
  const ensureAccount: EnsureAccount = kubeConfig
    ? accountEnsurer(kubeConfig, { ownNamespace: config.namespace, view: () => view })
    : async () => err(`no API client (${clientProblem}); set --kubeconfig or run in a cluster`);

  let versions: ClusterVersions | undefined;
  let draining = false;
  const { fastify } = buildApp({
    config,
    https: pair,
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      base: { component: 'sidecar-destruct-webhook' },
    },
    mode: () => resolveMode(config.sidecarMode, config.sidecarModeFallback, versions),
    ensureAccount,
    ready: () => !draining,
  });
  const log = fastify.log;
  if (!kubeConfig)
    log.warn({ error: clientProblem }, 'no API client: injecting, but cannot create ServiceAccounts');

  const refreshVersions = async (): Promise<void> => {
    if (!kubeConfig || config.sidecarMode !== 'auto') return;
    try {
      versions = await readClusterVersions(kubeConfig);
      log.info(
        { versions, mode: resolveMode(config.sidecarMode, config.sidecarModeFallback, versions) },
        'sidecar mode',
      );
    } catch (e) {
      log.warn(
        { error: (e as Error).message, fallback: config.sidecarModeFallback },
        'cannot read cluster versions yet',
      );
    }
  };
  void refreshVersions();
  const versionTimer = setInterval(() => void refreshVersions(), VERSION_REFRESH_MS);
  versionTimer.unref();
  const reconciler = kubeConfig
    ? startReconciler(
        kubeConfig,
        {
          ownNamespace: config.namespace,
          dedicatedAccount: config.serviceAccountName,
          intervalMs: config.reconcileIntervalMs,
        },
        log,
      )
    : undefined;
  view = kubeConfig
    ? watchAccounts(kubeConfig, config.serviceAccountName, () => reconciler?.trigger(), log)
    : undefined;

  try {
    await fastify.listen({ host: config.host, port: config.port });
  } catch (e) {
    log.error({ error: (e as Error).message }, `cannot listen on ${config.host}:${config.port}`);
    return 1;
  }
  const stopFollowing = followCertificate(
    config.tlsCertFile,
    config.tlsKeyFile,
    pair,
    (next) => {
      (fastify.server as unknown as TlsServer).setSecureContext({ cert: next.cert, key: next.key });
    },
    log,
  );

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  draining = true;
  log.info({ signal }, 'draining: finishing reviews in flight');
  stopFollowing();
  clearInterval(versionTimer);
  reconciler?.stop();
  void view?.stop();
  const how = await closeWithin(fastify, SHUTDOWN_DEADLINE_MS);
  log.info({ how }, 'stopped');
  return 0;
}
