/**
 * How every command finds its API server, the way kubectl does: `--kubeconfig FILE`, else `$KUBECONFIG` (a list,
 * merged as kubectl merges it), else `~/.kube/config`, else the pod's own service account
 * (in-cluster). When none of them exists the
 * command says so instead of trying localhost:8080, as a bare client would.
 */
import { err, ok, type Result } from './result.js';

export type KubeConfigSource =
  | { readonly kind: 'file'; readonly path: string }
  /** `$KUBECONFIG`: its files in order; as kubectl merges them, the first to name an entry wins. */
  | { readonly kind: 'files'; readonly paths: readonly string[] }
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
  const listed = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  if (listed.length > 0) return ok({ kind: 'files', paths: listed });
  if (homeConfig) return ok({ kind: 'file', path: homeConfig });
  if (env.KUBERNETES_SERVICE_HOST) return ok({ kind: 'in-cluster' });
  return err(NO_KUBECONFIG);
}

interface Named {
  readonly name: string;
}

/** What a Kubernetes client's config object offers to load itself (client-node's KubeConfig). */
export interface KubeConfigLoader {
  loadFromFile(file: string): void;
  loadFromCluster(): void;
  loadFromOptions(options: {
    clusters: readonly Named[];
    users: readonly Named[];
    contexts: readonly Named[];
    currentContext: string;
  }): void;
  setCurrentContext(context: string): void;
  readonly clusters: readonly Named[];
  readonly users: readonly Named[];
  readonly contexts: readonly Named[];
  readonly currentContext: string;
}

/** The first of each name, as kubectl keeps it when files disagree. */
const firsts = <T extends Named>(lists: readonly (readonly T[])[]): T[] => {
  const seen = new Map<string, T>();
  for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
  return [...seen.values()];
};

/**
 * Loads `source` into fresh config objects from `make`, switching to `context` when one is named. A list of files
 * merges as kubectl merges it: the first file that names a cluster, user, context or current-context wins; a
 * listed file that does not exist is skipped.
 */
export function loadKubeConfig<K extends KubeConfigLoader>(
  make: () => K,
  source: KubeConfigSource,
  context?: string,
  exists: (file: string) => boolean = () => true,
): K {
  const config = make();
  if (source.kind === 'file') config.loadFromFile(source.path);
  else if (source.kind === 'in-cluster') config.loadFromCluster();
  else {
    const each = source.paths.filter(exists).map((path) => {
      const one = make();
      one.loadFromFile(path);
      return one;
    });
    config.loadFromOptions({
      clusters: firsts(each.map((c) => c.clusters)),
      users: firsts(each.map((c) => c.users)),
      contexts: firsts(each.map((c) => c.contexts)),
      currentContext: each.find((c) => c.currentContext)?.currentContext ?? '',
    });
  }
  if (context) config.setCurrentContext(context);
  return config;
}
