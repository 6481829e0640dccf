/**
 * The webhook's work against the cluster beside admission itself: the watches of grants (view.ts) and of the
 * sidecar image's ConfigMap, the kubelet versions `auto` mode resolves by, the reconciler that makes the bindings
 * equal the grants, and the account ensurer admission calls, which reads those watches and wakes the reconciler.
 * Constructed before the app (admission needs the ensurer), started once the app's logger exists, stopped on
 * SIGTERM. Without an API client it still injects, and says what it cannot do.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { err, type Log } from '@sidecar-destruct/core';
import { accountEnsurer, type EnsureAccount } from './accounts.js';
import type { Config } from './pure/config.js';
import { type ClusterVersions, resolveMode } from './pure/mode.js';
import { type Reconciler, startReconciler } from './reconcile.js';
import { readClusterVersions } from './versions.js';
import { type AccountView, type SidecarImageView, watchAccounts, watchSidecarImage } from './view.js';

const VERSION_REFRESH_MS = 5 * 60_000;

export class ClusterWorkers {
  readonly ensureAccount: EnsureAccount;
  private versions: ClusterVersions | undefined;
  private view: AccountView | undefined;
  private reconciler: Reconciler | undefined;
  private versionTimer: NodeJS.Timeout | undefined;
  private sidecarImageView: SidecarImageView | undefined;

  constructor(
    private readonly config: Config,
    private readonly kubeConfig: KubeConfig | undefined,
    private readonly clientProblem: string,
  ) {
    if (!kubeConfig) {
      this.ensureAccount = async () =>
        err(`no API client (${clientProblem}); set --kubeconfig or run in a cluster`);
      return;
    }
    const ensure = accountEnsurer(kubeConfig, { ownNamespace: config.namespace, view: () => this.view });
    this.ensureAccount = async (...args) => {
      const result = await ensure(...args);
      // A check cut short (the deadline, an API error) may leave one binding of two: the reconciler completes it
      // now rather than at its next periodic pass.
      if (!result.ok) this.reconciler?.trigger();
      return result;
    };
  }

  /** The sidecar mode to inject now: `auto` resolved from the kubelet versions read so far, or the forced one. */
  mode(): 'native' | 'container' {
    return resolveMode(this.config.sidecarMode, this.config.sidecarModeFallback, this.versions);
  }

  /** The image to inject now: the watched ConfigMap's `sidecarImage` once read, else --sidecar-image. */
  sidecarImage(): string {
    return this.sidecarImageView?.image() ?? this.config.image;
  }

  /**
   * Whether the webhook may take reviews: with --config-map, only once that ConfigMap has been read (a new pod
   * must not inject the image its environment was started with after the policy moved on).
   */
  configured(): boolean {
    return this.config.configMap === '' || this.sidecarImageView?.image() !== undefined;
  }

  start(log: Pick<Log, 'info' | 'warn'>): void {
    const { config, kubeConfig } = this;
    if (!kubeConfig) {
      if (config.configMap !== '')
        log.warn(
          { error: this.clientProblem, configMap: config.configMap },
          'no API client to read the ConfigMap: not ready',
        );
      else
        log.warn(
          { error: this.clientProblem },
          'no API client: injecting, but cannot create ServiceAccounts',
        );
      return;
    }
    if (config.configMap !== '') {
      this.sidecarImageView = watchSidecarImage(
        kubeConfig,
        config.namespace,
        config.configMap,
        (image) =>
          image === undefined
            ? log.warn({ configMap: config.configMap }, 'the ConfigMap has no sidecarImage; not ready')
            : log.info({ image, configMap: config.configMap }, 'sidecar image'),
        log,
      );
    }
    if (config.sidecarMode === 'auto') {
      void this.refreshVersions(kubeConfig, log);
      this.versionTimer = setInterval(() => void this.refreshVersions(kubeConfig, log), VERSION_REFRESH_MS);
      this.versionTimer.unref();
    }
    const reconciler = startReconciler(
      kubeConfig,
      {
        ownNamespace: config.namespace,
        dedicatedAccount: config.serviceAccountName,
        intervalMs: config.reconcileIntervalMs,
      },
      log,
    );
    this.reconciler = reconciler;
    this.view = watchAccounts(kubeConfig, config.serviceAccountName, () => reconciler.trigger(), log);
  }

  async stop(): Promise<void> {
    clearInterval(this.versionTimer);
    this.reconciler?.stop();
    await Promise.all([this.view?.stop(), this.sidecarImageView?.stop()]);
  }

  private async refreshVersions(kubeConfig: KubeConfig, log: Pick<Log, 'info' | 'warn'>): Promise<void> {
    try {
      this.versions = await readClusterVersions(kubeConfig);
      log.info({ versions: this.versions, mode: this.mode() }, 'sidecar mode');
    } catch (e) {
      log.warn(
        { error: (e as Error).message, fallback: this.config.sidecarModeFallback },
        'cannot read cluster versions yet',
      );
    }
  }
}
