/**
 * The plugin's reads, each turned into a `Seen` value: a 403 becomes "forbidden" with what was asked, so that a
 * command can say what RBAC hid instead of failing; nothing here writes (the one dry run says so).
 */
import {
  AdmissionregistrationV1Api,
  ApiException,
  ApisApi,
  BatchV1Api,
  CoreV1Api,
  type CoreV1Event,
  DiscoveryV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  VersionApi,
} from '@kubernetes/client-node';
import type { Seen } from './pure/check.js';

export class Cluster {
  readonly core: CoreV1Api;
  readonly admission: AdmissionregistrationV1Api;
  readonly rbac: RbacAuthorizationV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly batch: BatchV1Api;
  readonly versions: VersionApi;
  readonly apis: ApisApi;
  /** The API server's URL, for messages. */
  readonly server: string;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
    this.versions = kubeConfig.makeApiClient(VersionApi);
    this.apis = kubeConfig.makeApiClient(ApisApi);
    this.server = kubeConfig.getCurrentCluster()?.server ?? '(no server)';
  }

  /** Runs one read; `what` says it in kubectl's words ("list nodes", "get secret ns/name"). */
  async seen<T>(what: string, read: () => Promise<T>): Promise<Seen<T>> {
    try {
      return { ok: true, value: await read() };
    } catch (e) {
      if (e instanceof ApiException) {
        if (e.code === 403) return { ok: false, why: 'forbidden', what, message: 'forbidden' };
        if (e.code === 404) return { ok: false, why: 'missing', what, message: 'not found' };
        return { ok: false, why: 'error', what, message: `HTTP ${e.code}: ${messageOf(e.body)}` };
      }
      return { ok: false, why: 'error', what, message: (e as Error).message };
    }
  }

  nodes(): Promise<Seen<V1Node[]>> {
    return this.seen('list nodes', async () => (await this.core.listNode()).items);
  }

  /** Pods of one namespace, or of all with `namespace` undefined. */
  pods(namespace: string | undefined): Promise<Seen<V1Pod[]>> {
    return namespace
      ? this.seen(
          `list pods in ${namespace}`,
          async () => (await this.core.listNamespacedPod({ namespace })).items,
        )
      : this.seen(
          'list pods in all namespaces',
          async () => (await this.core.listPodForAllNamespaces()).items,
        );
  }

  namespaces(): Promise<Seen<V1Namespace[]>> {
    return this.seen('list namespaces', async () => (await this.core.listNamespace()).items);
  }

  events(namespace: string | undefined): Promise<Seen<CoreV1Event[]>> {
    return namespace
      ? this.seen(
          `list events in ${namespace}`,
          async () => (await this.core.listNamespacedEvent({ namespace })).items,
        )
      : this.seen(
          'list events in all namespaces',
          async () => (await this.core.listEventForAllNamespaces()).items,
        );
  }

  /** Whether a read failed because the API server could not be reached at all (not a refusal). */
  static unreachable(seen: Seen<unknown>): boolean {
    return !seen.ok && seen.why === 'error' && !/^HTTP /.test(seen.message);
  }
}

/** The `message` of a Status body, or the body itself, shortened. */
function messageOf(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? '');
  try {
    const status = JSON.parse(text) as { message?: string };
    return (status.message ?? text).slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
