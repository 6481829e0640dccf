/**
 * What admission needs to know about grants, kept current by three label- or field-selected watches instead of
 * a request per admission: the dedicated accounts (by name), the accounts labelled granted, and the namespaces
 * labelled for injection. While a watch is not healthy (starting, failed, reconnecting after an error) the view
 * says so, and admission reads the API server instead; a failed watch is restarted with a growing, jittered delay.
 */
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type V1ConfigMap,
  type V1Namespace,
  type V1ServiceAccount,
  Watch,
} from '@kubernetes/client-node';
import { type Log, reconnect } from '@sidecar-destruct/core';
import { SELECTORS } from './pure/grants.js';

export interface AccountView {
  /** True while every watch is listed and running: then the answers below are current. */
  ready(): boolean;
  /** The uid of the namespace's dedicated account, or undefined when it has none. */
  dedicatedAccount(namespace: string): string | undefined;
  /** The uid of the account when it is labelled granted, else undefined. */
  grantedAccount(namespace: string, name: string): string | undefined;
  namespaceEnabled(namespace: string): boolean;
  stop(): Promise<void>;
}

/** What the restarts of the three watches share: which ones are healthy, the timers to clear, whether to stop. */
interface Watches {
  readonly healthy: Map<string, boolean>;
  readonly timers: Set<NodeJS.Timeout>;
  stopped: boolean;
}

/**
 * Starts one informer and keeps it running: a failed watch is restarted with the sidecar's reconnect policy
 * (core/src/backoff.ts `reconnect`), whose failure count is reset only by a watch that stayed healthy for
 * HEALTHY_WATCH_MS, never because a list succeeded. ListWatch relists by itself on a 410 and resumes by itself
 * after the server's timeout, so every error that reaches it here is a failure.
 */
export function keepWatching<T extends KubernetesObject>(
  name: string,
  informer: ListWatch<T>,
  watches: Watches,
  onChange: () => void,
  log: Pick<Log, 'warn'>,
): void {
  let failures = 0;
  let healthySince: number | undefined;
  watches.healthy.set(name, false);
  // A watch refused at once (403, say) reports its error before start() resolves: only an attempt that saw
  // no error makes the view healthy.
  let failed = false;
  const start = (): void => {
    failed = false;
    informer.start().then(
      () => {
        if (failed) return;
        watches.healthy.set(name, true);
        healthySince = performance.now();
      },
      () => undefined, // reported through the ERROR callback below
    );
  };
  informer.on('error', (e: unknown) => {
    failed = true;
    watches.healthy.set(name, false);
    const openMs = healthySince === undefined ? 0 : performance.now() - healthySince;
    healthySince = undefined;
    const step = reconnect(failures, { openMs, cleanClose: false, expired: false }, Math.random);
    failures = step.failures;
    if (watches.stopped) return;
    log.warn({ watch: name, error: (e as Error)?.message ?? String(e) }, 'watch failed; retrying');
    const timer = setTimeout(() => {
      watches.timers.delete(timer);
      if (!watches.stopped) start();
    }, step.delayMs);
    timer.unref();
    watches.timers.add(timer);
  });
  informer.on('add', () => onChange());
  informer.on('update', () => onChange());
  informer.on('delete', () => onChange());
  start();
}

export function watchAccounts(
  kubeConfig: KubeConfig,
  dedicatedName: string,
  onChange: () => void,
  log: Pick<Log, 'warn'>,
): AccountView {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const watch = new Watch(kubeConfig);
  /** An informer of `path` narrowed by one selector, listed and watched alike (started by keepWatching). */
  const informer = <T extends KubernetesObject>(
    path: string,
    list: (selectors: { labelSelector?: string; fieldSelector?: string }) => Promise<KubernetesListObject<T>>,
    selectors: { labelSelector?: string; fieldSelector?: string },
  ) =>
    new ListWatch<T>(
      path,
      watch,
      () => list(selectors),
      false,
      selectors.labelSelector,
      selectors.fieldSelector,
    );
  const accounts = (selectors: { labelSelector?: string; fieldSelector?: string }) =>
    core.listServiceAccountForAllNamespaces(selectors);
  const dedicated = informer<V1ServiceAccount>('/api/v1/serviceaccounts', accounts, {
    fieldSelector: SELECTORS.dedicatedAccounts(dedicatedName),
  });
  const granted = informer<V1ServiceAccount>('/api/v1/serviceaccounts', accounts, {
    labelSelector: SELECTORS.grantedAccounts,
  });
  const namespaces = informer<V1Namespace>('/api/v1/namespaces', (s) => core.listNamespace(s), {
    labelSelector: SELECTORS.enabledNamespaces,
  });

  const watches: Watches = { healthy: new Map(), timers: new Set(), stopped: false };
  keepWatching('dedicated accounts', dedicated, watches, onChange, log);
  keepWatching('granted accounts', granted, watches, onChange, log);
  keepWatching('enabled namespaces', namespaces, watches, onChange, log);

  return {
    ready: () => !watches.stopped && [...watches.healthy.values()].every(Boolean),
    dedicatedAccount: (namespace) => dedicated.get(dedicatedName, namespace)?.metadata?.uid,
    grantedAccount: (namespace, name) => granted.get(name, namespace)?.metadata?.uid,
    namespaceEnabled: (namespace) => namespaces.get(namespace) !== undefined,
    stop: async () => {
      watches.stopped = true;
      for (const t of watches.timers) clearTimeout(t);
      await Promise.all([dedicated.stop(), granted.stop(), namespaces.stop()]);
    },
  };
}

export interface SidecarImageView {
  /** The ConfigMap's `sidecarImage` as last seen, or undefined before the first list (or when the key is missing). */
  image(): string | undefined;
  stop(): Promise<void>;
}

/**
 * The sidecar image from the ConfigMap the admission policy reads it from (its `sidecarImage` key), watched by
 * name: the webhook injects the new image as soon as the policy requires it, not when its pods next restart.
 */
export function watchSidecarImage(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  onChange: (image: string | undefined) => void,
  log: Pick<Log, 'warn'>,
): SidecarImageView {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${name}`;
  const informer = new ListWatch<V1ConfigMap>(
    `/api/v1/namespaces/${namespace}/configmaps`,
    new Watch(kubeConfig),
    () => core.listNamespacedConfigMap({ namespace, fieldSelector }),
    false,
    undefined,
    fieldSelector,
  );
  const image = () => informer.get(name, namespace)?.data?.sidecarImage || undefined;
  const watches: Watches = { healthy: new Map(), timers: new Set(), stopped: false };
  keepWatching(`configmap ${name}`, informer, watches, () => onChange(image()), log);
  return {
    image,
    stop: async () => {
      watches.stopped = true;
      for (const t of watches.timers) clearTimeout(t);
      await informer.stop();
    },
  };
}
