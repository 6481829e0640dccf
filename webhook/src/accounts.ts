/**
 * The pod's account, at admission. The dedicated account is created when the webhook gives it to a pod (it
 * holds no role by itself, so a forged review that makes one grants nothing; the ServiceAccount admission plugin
 * would refuse the pod without it). The sidecar's bindings are made only for an account that holds the roles by
 * the rule in grants.ts, read from the API server — never because a review named the account or namespace.
 *
 * What admission needs to know comes from watches (view.ts), so that the steady state costs no request, and a
 * namespace deleted and recreated, or an account deleted, is seen as soon as the watch delivers it: the bindings
 * are re-made whenever the account's uid differs from the cached one. While the watches are not ready,
 * admission reads the account from the API server instead. What was seen of each account is cached, bounded (least
 * recently used first out) and for a minute at most.
 */
import {
  ApiException,
  type ConfigurationOptions,
  CoreV1Api,
  type KubeConfig,
  Observable,
  RbacAuthorizationV1Api,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { err, NODE_READER_CLUSTER_ROLE, ok, type Result, SIDECAR_CLUSTER_ROLE } from '@sidecar-destruct/core';
import {
  type Account,
  accountGranted,
  accountKey,
  bindingNames,
  holdsSidecarRoles,
  isExcludedNamespace,
  MANAGED_LABELS,
  namespaceEnabled,
} from './pure/grants.js';
import type { AccountView } from './view.js';

/** What admission reports about the pod's account: nothing when it holds the sidecar's roles. */
export interface NotGranted {
  readonly kind: 'not-granted';
  readonly account: Account;
  readonly dedicated: boolean;
}

/** `deadline` aborts the API calls still in flight when the review must be answered. */
export type EnsureAccount = (
  namespace: string,
  account: string,
  createAccount: boolean,
  deadline: AbortSignal,
) => Promise<Result<NotGranted | undefined>>;

/** Per-call options of client-node that make a request end when `signal` aborts. */
export function abortedBy(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX_ENTRIES = 1_024;

/** A bounded, expiring cache: it drops its least recently used entry when full, and entries past their deadline. */
export class ExpiringLruCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}
  get size(): number {
    return this.entries.size;
  }
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.until <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }
  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + ttlMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}

const notFound = (e: unknown): boolean => e instanceof ApiException && e.code === 404;

async function createdOrExisting<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof ApiException && e.code === 409) return undefined;
    throw e;
  }
}

/** `HTTP 403: <the API server's message>`: which policy or RBAC rule refused is in the message. */
export function describeApiError(e: unknown): string {
  if (!(e instanceof ApiException)) return (e as Error).message;
  let message: unknown;
  try {
    message = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body)?.message;
  } catch {
    message = undefined;
  }
  return typeof message === 'string' ? `HTTP ${e.code}: ${message.slice(0, 300)}` : `HTTP ${e.code}`;
}

/** Creates the two bindings of an account; AlreadyExists is success (the names are the account's). */
export async function bindAccount(
  rbac: RbacAuthorizationV1Api,
  account: Account,
  options?: ConfigurationOptions,
): Promise<void> {
  const subject = { kind: 'ServiceAccount', name: account.name, namespace: account.namespace };
  const names = bindingNames(account);
  await createdOrExisting(() =>
    rbac.createNamespacedRoleBinding(
      {
        namespace: account.namespace,
        body: {
          metadata: { name: names.roleBinding, namespace: account.namespace, labels: { ...MANAGED_LABELS } },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: SIDECAR_CLUSTER_ROLE },
          subjects: [subject],
        },
      },
      options,
    ),
  );
  await createdOrExisting(() =>
    rbac.createClusterRoleBinding(
      {
        body: {
          metadata: { name: names.clusterRoleBinding, labels: { ...MANAGED_LABELS } },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: NODE_READER_CLUSTER_ROLE,
          },
          subjects: [subject],
        },
      },
      options,
    ),
  );
}

export interface EnsurerOptions {
  /** The webhook's own namespace: never given an account or binding. */
  readonly ownNamespace: string;
  /** The watched view of grants: when it is ready, admission makes no request in the steady state. */
  readonly view?: () => AccountView | undefined;
  readonly now?: () => number;
}

/** What one admission knows about the pod's account and namespace, from the view or from the API server. */
interface Facts {
  /** The account's uid, undefined when it does not exist (or, from the view, is an own account not granted). */
  readonly uid: string | undefined;
  readonly granted: boolean;
  /** Undefined when not known yet: read from the API server only if it matters. */
  readonly enabled: boolean | undefined;
}

/**
 * The pod's account at admission, one method per source of facts: the watches (no request), the API server
 * (while the watches are not ready, or to confirm a "no"), and the bindings that follow.
 */
class AccountEnsurer {
  private readonly core: CoreV1Api;
  private readonly rbac: RbacAuthorizationV1Api;
  // account key → what was seen of it when its bindings were made (or it was found not granted), and the report.
  private readonly checked: ExpiringLruCache<{ seen: string; report: NotGranted | undefined }>;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: EnsurerOptions,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.rbac = kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    this.checked = new ExpiringLruCache(CACHE_MAX_ENTRIES, options.now ?? (() => performance.now()));
  }

  async ensure(
    account: Account,
    dedicated: boolean,
    deadline: AbortSignal,
  ): Promise<Result<NotGranted | undefined>> {
    const { namespace, name } = account;
    if (isExcludedNamespace(namespace, this.options.ownNamespace)) {
      return err(`namespace ${namespace} never gets the sidecar's account or roles`);
    }
    try {
      return ok(await this.bindIfHoldsRoles(account, dedicated, abortedBy(deadline)));
    } catch (e) {
      const why = deadline.aborted
        ? 'no answer from the API server before the admission deadline'
        : describeApiError(e);
      return err(`cannot check or bind the sidecar's ServiceAccount ${namespace}/${name} (${why})`);
    }
  }

  /**
   * Binds the account when it holds the sidecar's roles by the rule (grants.ts); else says why not. An account seen
   * unchanged within the cache's lifetime is answered as before, without binding again.
   */
  private async bindIfHoldsRoles(
    account: Account,
    dedicated: boolean,
    call: ConfigurationOptions,
  ): Promise<NotGranted | undefined> {
    const facts = await this.facts(account, dedicated, call);
    // A pod naming an account that does not exist is refused by the ServiceAccount admission plugin; an own
    // account that is not granted has nothing to bind.
    if (facts.uid === undefined) return { kind: 'not-granted', account, dedicated };
    // A recreated account (new uid), a grant given or taken, or a namespace label changed is seen at once.
    const seen = `${facts.uid}/${facts.granted}/${facts.enabled ?? '?'}`;
    const known = this.checked.get(accountKey(account));
    if (known && known.seen === seen) return known.report;

    const enabled =
      facts.enabled ??
      (dedicated &&
        namespaceEnabled(
          (await this.core.readNamespace({ name: account.namespace }, call)).metadata?.labels,
        ));
    const holds = holdsSidecarRoles({ dedicated, namespaceEnabled: enabled, accountGranted: facts.granted });
    const report: NotGranted | undefined = holds ? undefined : { kind: 'not-granted', account, dedicated };
    if (holds) await bindAccount(this.rbac, account, call);
    this.checked.set(accountKey(account), { seen, report }, CACHE_TTL_MS);
    return report;
  }

  /**
   * The watches answer "holds the roles" without a request. A "no" is confirmed with the API server: a namespace
   * labelled, or an account granted, a moment ago may not have reached the watch yet.
   */
  private async facts(account: Account, dedicated: boolean, call: ConfigurationOptions): Promise<Facts> {
    const view = this.options.view?.();
    const fromView = view?.ready() ? await this.fromView(view, account, dedicated, call) : undefined;
    const viewSaysHolds =
      fromView?.uid !== undefined &&
      holdsSidecarRoles({
        dedicated,
        namespaceEnabled: fromView.enabled ?? false,
        accountGranted: fromView.granted,
      });
    return fromView && viewSaysHolds ? fromView : this.fromApi(account, dedicated, call);
  }

  /** From the watches: no request, except creating a missing dedicated account. */
  private async fromView(
    view: AccountView,
    account: Account,
    dedicated: boolean,
    call: ConfigurationOptions,
  ): Promise<Facts> {
    const grantedUid = view.grantedAccount(account.namespace, account.name);
    const uid = dedicated
      ? (view.dedicatedAccount(account.namespace) ?? (await this.createDedicated(account, call)))
      : grantedUid;
    return { uid, granted: grantedUid !== undefined, enabled: view.namespaceEnabled(account.namespace) };
  }

  /** From the API server, while the watches are not ready: one GET of the account (and a create if needed). */
  private async fromApi(account: Account, dedicated: boolean, call: ConfigurationOptions): Promise<Facts> {
    let sa: V1ServiceAccount | undefined;
    try {
      sa = await this.core.readNamespacedServiceAccount(account, call);
    } catch (e) {
      if (!notFound(e)) throw e;
    }
    const uid = sa ? sa.metadata?.uid : dedicated ? await this.createDedicated(account, call) : undefined;
    return { uid, granted: accountGranted(sa?.metadata?.labels), enabled: undefined };
  }

  /** Creates the dedicated account (it holds no role by itself); its uid, also when it already existed. */
  private async createDedicated(account: Account, call: ConfigurationOptions): Promise<string | undefined> {
    const { namespace, name } = account;
    const made = await createdOrExisting(() =>
      this.core.createNamespacedServiceAccount(
        { namespace, body: { metadata: { name, namespace, labels: { ...MANAGED_LABELS } } } },
        call,
      ),
    );
    return (made ?? (await this.core.readNamespacedServiceAccount({ name, namespace }, call))).metadata?.uid;
  }
}

export function accountEnsurer(kubeConfig: KubeConfig, options: EnsurerOptions): EnsureAccount {
  const ensurer = new AccountEnsurer(kubeConfig, options);
  return (namespace, name, dedicated, deadline) => ensurer.ensure({ namespace, name }, dedicated, deadline);
}
