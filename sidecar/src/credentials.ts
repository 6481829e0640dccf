/**
 * Where the API server is and how to authenticate: in-cluster from the mounted ServiceAccount (the token file
 * is re-read on every request, since the kubelet rotates it), or from a kubeconfig for runs outside a cluster.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { err, isObject, ok, type Result, SERVICE_ACCOUNT_DIR } from '@sidecar-destruct/core';

export interface Connection {
  readonly server: URL;
  /** PEM bundle to trust; undefined means the system's CAs. */
  readonly ca?: Buffer;
  readonly insecureSkipTlsVerify?: boolean;
  readonly clientCert?: Buffer;
  readonly clientKey?: Buffer;
  /** The bearer token for the next request, if any. */
  readonly token: () => Promise<string | undefined>;
}

const tokenFromFile = (path: string) => async (): Promise<string | undefined> =>
  (await readFile(path, 'utf8')).trim();

/** In-cluster configuration, as client-go's rest.InClusterConfig. */
export async function inCluster(
  env: Readonly<Record<string, string | undefined>>,
  dir = SERVICE_ACCOUNT_DIR,
): Promise<Result<Connection>> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    return err('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  let ca: Buffer;
  try {
    ca = await readFile(`${dir}/ca.crt`);
  } catch {
    return err(`cannot read ${dir}/ca.crt`);
  }
  return ok({
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    ca,
    token: tokenFromFile(`${dir}/token`),
  });
}

type Doc = Record<string, unknown>;
const isDoc: (x: unknown) => x is Doc = isObject;
const named = (list: unknown, name: string, key: string): Doc | undefined => {
  if (!Array.isArray(list)) return undefined;
  const entry = list.find((e) => isDoc(e) && e.name === name);
  return isDoc(entry) && isDoc(entry[key]) ? entry[key] : undefined;
};
const str = (doc: Doc, key: string): string | undefined =>
  typeof doc[key] === 'string' ? doc[key] : undefined;

/** The current context of a kubeconfig file: server, CA, and a token, token file or client certificate. */
export async function fromKubeconfig(path: string): Promise<Result<Connection>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return err(`cannot read kubeconfig ${path}`);
  }
  // yaml is loaded only here: in a cluster the sidecar never pays for it.
  const { parse } = await import('yaml');
  let config: unknown;
  try {
    config = parse(text);
  } catch {
    return err(`kubeconfig ${path} is not valid YAML`);
  }
  const current = currentContext(config, path);
  if (!current.ok) return current;
  return connectionOf(current.value, path);
}

interface Context {
  readonly cluster: Doc;
  readonly user: Doc;
  readonly server: string;
}

/** The cluster, user and server of the kubeconfig's current context, or what is missing. */
function currentContext(config: unknown, path: string): Result<Context> {
  if (!isDoc(config)) return err(`kubeconfig ${path} is not a kubeconfig`);
  const contextName = str(config, 'current-context');
  if (!contextName) return err(`kubeconfig ${path} has no current-context`);
  const context = named(config.contexts, contextName, 'context');
  if (!context) return err(`kubeconfig ${path}: context ${contextName} not found`);
  const cluster = named(config.clusters, str(context, 'cluster') ?? '', 'cluster');
  const user = named(config.users, str(context, 'user') ?? '', 'user') ?? {};
  const server = cluster && str(cluster, 'server');
  if (!cluster || !server)
    return err(`kubeconfig ${path}: the cluster of context ${contextName} has no server`);
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    return err(
      `kubeconfig ${path}: exec and auth-provider credentials are not supported; use a token or a client certificate`,
    );
  }
  return ok({ cluster, user, server });
}

/** The connection a context describes; relative file names are relative to the kubeconfig's folder. */
async function connectionOf({ cluster, user, server }: Context, path: string): Promise<Result<Connection>> {
  const base = dirname(path);
  const file = (p: string) => readFile(isAbsolute(p) ? p : resolve(base, p));
  const data = (key: string): Buffer | undefined => {
    const value = str(cluster, key) ?? str(user, key);
    return value === undefined ? undefined : Buffer.from(value, 'base64');
  };
  try {
    const caPath = str(cluster, 'certificate-authority');
    const certPath = str(user, 'client-certificate');
    const keyPath = str(user, 'client-key');
    const ca = data('certificate-authority-data') ?? (caPath ? await file(caPath) : undefined);
    const clientCert = data('client-certificate-data') ?? (certPath ? await file(certPath) : undefined);
    const clientKey = data('client-key-data') ?? (keyPath ? await file(keyPath) : undefined);
    const tokenFile = str(user, 'tokenFile');
    const token = str(user, 'token');
    return ok({
      server: new URL(server),
      ...(ca ? { ca } : {}),
      ...(clientCert ? { clientCert } : {}),
      ...(clientKey ? { clientKey } : {}),
      ...(cluster['insecure-skip-tls-verify'] === true ? { insecureSkipTlsVerify: true } : {}),
      token: tokenFile
        ? tokenFromFile(isAbsolute(tokenFile) ? tokenFile : resolve(base, tokenFile))
        : async () => token,
    });
  } catch (e) {
    return err(
      `kubeconfig ${path}: cannot read a referenced file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
