/**
 * How every command finds its API server, the way kubectl does: `--kubeconfig FILE`, else `$KUBECONFIG` (a list,
 * merged by client-node from the process environment), else `~/.kube/config`, else the pod's own service account
 * (in-cluster). When none of them exists the
 * command says so instead of trying localhost:8080, as a bare client would.
 */
import { err, ok, type Result } from './result.js';

export type KubeConfigSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env' }
  | { readonly kind: 'in-cluster' };

export const NO_KUBECONFIG =
  'no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, create ~/.kube/config, or run in a pod';

/**
 * The source to load, from the flag, the environment and whether `~/.kube/config` exists. A server that runs in
 * the cluster (the webhook) asks for `inClusterFirst`: inside a pod its own account wins over any kubeconfig
 * that happens to be in its environment or its home, so that nothing but an explicit flag changes who it is.
 */
export function kubeConfigSource(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  homeConfig: string | undefined,
  options: { readonly inClusterFirst?: boolean } = {},
): Result<KubeConfigSource> {
  if (flag) return ok({ kind: 'file', path: flag });
  if (options.inClusterFirst && env.KUBERNETES_SERVICE_HOST) return ok({ kind: 'in-cluster' });
  if (env.KUBECONFIG) return ok({ kind: 'env' });
  if (homeConfig) return ok({ kind: 'file', path: homeConfig });
  if (env.KUBERNETES_SERVICE_HOST) return ok({ kind: 'in-cluster' });
  return err(NO_KUBECONFIG);
}

/** What a Kubernetes client's config object offers to load itself (client-node's KubeConfig). */
export interface KubeConfigLoader {
  loadFromFile(file: string): void;
  loadFromDefault(): void;
  loadFromCluster(): void;
  setCurrentContext(context: string): void;
}

/** Loads `source` into a fresh config object, switching to `context` when one is named. */
export function loadKubeConfig<K extends KubeConfigLoader>(
  config: K,
  source: KubeConfigSource,
  context?: string,
): K {
  if (source.kind === 'file') config.loadFromFile(source.path);
  else if (source.kind === 'env') config.loadFromDefault();
  else config.loadFromCluster();
  if (context) config.setCurrentContext(context);
  return config;
}
