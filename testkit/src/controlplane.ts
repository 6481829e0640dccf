/**
 * A real, local control plane: etcd and kube-apiserver on free loopback ports with temporary data, RBAC, the
 * default admission chain (PodSecurity, ServiceAccount, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, …)
 * and service-account signing keys so that TokenRequest works; optionally kube-scheduler and
 * kube-controller-manager. Everything is stopped and removed by `stop()`, which tests call in `afterAll`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlPlaneBinaries } from './binaries.js';
import { type Rest, restClient } from './rest.js';

export interface ControlPlaneOptions {
  /** Also run kube-scheduler (pods get bound to nodes). */
  readonly scheduler?: boolean;
  /** Also run kube-controller-manager (Deployments, ReplicaSets, default ServiceAccounts, PDB status, GC). */
  readonly controllerManager?: boolean;
  /** Where the processes' logs go; default: files in the temporary directory. */
  readonly logDir?: string;
  /**
   * For real kubelets: the Node authorizer before RBAC, the NodeRestriction admission plugin, and the kubelet
   * dialled at its InternalIP.
   */
  readonly nodeAuthorization?: boolean;
  /** More static-token identities (e.g. `system:node:NAME` in `system:nodes` for a kubelet). */
  readonly tokens?: readonly { token: string; user: string; groups: readonly string[] }[];
  /** More kube-apiserver flags, after the harness's own. */
  readonly apiServerArgs?: readonly string[];
}

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  readonly server: string;
  /** An admin (system:masters) kubeconfig. */
  readonly kubeconfig: string;
  /** The PEM bundle that verifies the API server's serving certificate. */
  readonly caFile: string;
  readonly adminToken: string;
  readonly binDir: string;
  readonly dir: string;
  /** The API server's version as it reports it (`v1.34.4`): the suites run on every line of controlplane/versions. */
  readonly version: string;
  /** Admin REST calls (or with another token). */
  readonly rest: Rest;
  /** Runs kubectl with the admin kubeconfig; resolves with stdout, rejects with stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** Stops kube-apiserver (etcd keeps the data) and starts it again on the same port when `restart` is called. */
  stopApiServer(): Promise<void>;
  /** Process ids of the running components (for the benchmarks' memory figures). */
  pids(): Readonly<Record<string, number | undefined>>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

async function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  logDir: string,
): Promise<Proc> {
  await mkdir(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${name}.log`));
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { name, child, exited };
}

async function stopProcess(proc: Proc | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const killed = await Promise.race([proc.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!killed) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

/** GET a path of the API server as admin; resolves with the status code, or 0 when it cannot connect. */
function probe(server: string, token: string, ca: Buffer, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      new URL(path, server),
      { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** The end of a log file, for error messages that outlive the temporary directory. */
async function tail(path: string, lines = 15): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '(no log)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * The API server's gitVersion. When K8S_VERSION names the version under test (the version matrix of `npm test`),
 * a server of another version is an error: binaries from KUBEBUILDER_ASSETS would otherwise pass for it.
 */
async function serverVersion(rest: Rest): Promise<string> {
  const reply = await rest('GET', '/version');
  const version: unknown = reply.body?.gitVersion;
  if (reply.status !== 200 || typeof version !== 'string') {
    throw new Error(`GET /version: HTTP ${reply.status} ${JSON.stringify(reply.body)}`);
  }
  const wanted = process.env.K8S_VERSION;
  if (wanted && version !== `v${wanted}`) {
    throw new Error(`K8S_VERSION=${wanted} but the API server is ${version} (is KUBEBUILDER_ASSETS set?)`);
  }
  return version;
}

const running = new Set<() => Promise<void>>();

/** Stops every control plane this process started (for Ctrl-C in the demo). */
export async function stopAllControlPlanes(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

/**
 * A port found free is released before etcd or kube-apiserver binds it, and another process (an outgoing
 * connection, a parallel suite) may take it in between: a start that failed on a taken port is tried again with
 * new ports, twice at most.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(options);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test((e as Error).message)) throw e;
    }
  }
}

/** The files the API server and the controllers authenticate with, in the control plane's pki directory. */
interface Credentials {
  readonly certDir: string;
  readonly adminToken: string;
  /** The static tokens: the admin's and `options.tokens`. */
  readonly tokenFile: string;
  /** The service-account signing key pair, so that TokenRequest works. */
  readonly saPub: string;
  readonly saKey: string;
}

/** What kube-apiserver is started with (again, on a restart) and how to tell that it is ready. */
interface ApiServerLaunch {
  readonly args: readonly string[];
  readonly server: string;
  /** Written by kube-apiserver itself into the cert dir: its self-signed serving certificate. */
  readonly caFile: string;
  readonly adminToken: string;
}

async function startControlPlaneOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const binDir = await controlPlaneBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-cp-'));
  const components = new Components(binDir, dir, options.logDir ?? join(dir, 'logs'));
  const stop = async (): Promise<void> => {
    running.delete(stop);
    await components.stop();
  };
  running.add(stop);
  try {
    return await bringUp(components, options, stop);
  } catch (e) {
    await stop();
    throw e;
  }
}

/** etcd, kube-apiserver once ready, the admin kubeconfig, then the controllers asked for. */
async function bringUp(
  components: Components,
  options: ControlPlaneOptions,
  stop: () => Promise<void>,
): Promise<ControlPlane> {
  const { binDir, dir } = components;
  const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
  const credentials = await writeCredentials(join(dir, 'pki'), options.tokens ?? []);
  await components.start('etcd', etcdFlags(join(dir, 'etcd'), etcdClient, etcdPeer));

  const launch: ApiServerLaunch = {
    args: apiServerFlags(options, etcdClient, apiPort, credentials),
    server: `https://127.0.0.1:${apiPort}`,
    caFile: join(credentials.certDir, 'apiserver.crt'),
    adminToken: credentials.adminToken,
  };
  await components.startApiServer(launch);
  const kubeconfig = await writeAdminKubeconfig(join(dir, 'admin.kubeconfig'), launch);
  await startControllers(components, options, kubeconfig, credentials.saKey, launch.caFile);

  const rest = restClient(launch.server, await readFile(launch.caFile), launch.adminToken);
  const version = await serverVersion(rest);
  return {
    server: launch.server,
    rest,
    version,
    kubeconfig,
    caFile: launch.caFile,
    adminToken: launch.adminToken,
    binDir,
    dir,
    kubectl: (args, input) => runKubectl(join(binDir, 'kubectl'), kubeconfig, args, input),
    stopApiServer: () => components.stopApiServer(),
    startApiServer: () => components.startApiServer(launch),
    pids: () => components.pids(),
    stop,
  };
}

/**
 * The processes of one control plane, each run from the binary of its name, and its temporary directory. etcd
 * is started first and stopped last; kube-apiserver can be stopped and started again with the same flags (the
 * same port, the same data).
 */
class Components {
  /** etcd first, then the controllers; kube-apiserver is apart, since it comes and goes. */
  private readonly procs: Proc[] = [];
  private apiserver: Proc | undefined;

  constructor(
    readonly binDir: string,
    readonly dir: string,
    private readonly logDir: string,
  ) {}

  async start(name: string, args: readonly string[]): Promise<void> {
    this.procs.push(await startProcess(name, join(this.binDir, name), args, this.logDir));
  }

  /** Starts kube-apiserver and resolves once it is ready. */
  async startApiServer(launch: ApiServerLaunch): Promise<void> {
    const name = 'kube-apiserver';
    this.apiserver = await startProcess(name, join(this.binDir, name), launch.args, this.logDir);
    await untilReady(launch, this.apiserver, this.procs[0], this.logDir);
  }

  /** Stops kube-apiserver; etcd keeps the data. */
  async stopApiServer(): Promise<void> {
    await stopProcess(this.apiserver);
    this.apiserver = undefined;
  }

  pids(): Readonly<Record<string, number | undefined>> {
    const all = [...this.procs, ...(this.apiserver ? [this.apiserver] : [])];
    return Object.fromEntries(all.map((p) => [p.name, p.child.pid]));
  }

  /** Everything that talks to etcd first, together; etcd last; then the directory, unless asked to keep it. */
  async stop(): Promise<void> {
    const [etcd, ...others] = this.procs;
    await Promise.all([stopProcess(this.apiserver), ...others.map(stopProcess)]);
    await stopProcess(etcd);
    if (!process.env.SIDECAR_DESTRUCT_KEEP_CONTROL_PLANE)
      await rm(this.dir, { recursive: true, force: true });
  }
}

/** A random admin token, the static-token file, and the service-account signing key pair. */
async function writeCredentials(
  certDir: string,
  tokens: NonNullable<ControlPlaneOptions['tokens']>,
): Promise<Credentials> {
  const adminToken = randomBytes(24).toString('hex');
  await mkdir(certDir, { recursive: true });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saPub = join(certDir, 'sa.pub');
  const saKey = join(certDir, 'sa.key');
  await writeFile(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const tokenFile = join(certDir, 'tokens.csv');
  const tokenLines = [
    `${adminToken},admin,admin,system:masters`,
    ...tokens.map((t) => `${t.token},${t.user},${t.user},"${t.groups.join(',')}"`),
  ];
  await writeFile(tokenFile, `${tokenLines.join('\n')}\n`, { mode: 0o600 });
  return { certDir, adminToken, tokenFile, saPub, saKey };
}

function etcdFlags(dataDir: string, clientPort: number, peerPort: number): string[] {
  return [
    '--name=default',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=http://127.0.0.1:${clientPort}`,
    `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    // Throwaway data: fsync only costs time here.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiServerFlags(
  options: ControlPlaneOptions,
  etcdPort: number,
  port: number,
  credentials: Credentials,
): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--secure-port=${port}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // The kubernetes Service's endpoints may not point at loopback; nothing here needs them.
    '--endpoint-reconciler-type=none',
    // With no certificate given, kube-apiserver writes a self-signed CA and serving certificate here.
    `--cert-dir=${credentials.certDir}`,
    options.nodeAuthorization ? '--authorization-mode=Node,RBAC' : '--authorization-mode=RBAC',
    `--token-auth-file=${credentials.tokenFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${credentials.saPub}`,
    `--service-account-signing-key-file=${credentials.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    `--enable-admission-plugins=PodSecurity,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook${options.nodeAuthorization ? ',NodeRestriction' : ''}`,
    '--allow-privileged=true',
    '--v=1',
    ...(options.nodeAuthorization ? ['--kubelet-preferred-address-types=InternalIP'] : []),
    ...(options.apiServerArgs ?? []),
  ];
}

/** Polls /readyz until it answers 200; fails at once, with the end of its log, when etcd or kube-apiserver exits. */
async function untilReady(
  launch: ApiServerLaunch,
  apiserver: Proc,
  etcd: Proc | undefined,
  logDir: string,
): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (etcd && etcd.child.exitCode !== null) {
      throw new Error(`etcd exited (${etcd.child.exitCode}):\n${await tail(join(logDir, 'etcd.log'))}`);
    }
    if (apiserver.child.exitCode !== null) {
      throw new Error(
        `kube-apiserver exited (${apiserver.child.exitCode}):\n${await tail(join(logDir, 'kube-apiserver.log'))}`,
      );
    }
    const ca = await readFile(launch.caFile).catch(() => undefined);
    if (ca && (await probe(launch.server, launch.adminToken, ca, '/readyz')) === 200) return;
    if (Date.now() > deadline) {
      throw new Error(
        `kube-apiserver not ready after 90 s:\n${await tail(join(logDir, 'kube-apiserver.log'))}`,
      );
    }
    await sleep(200);
  }
}

/** An admin (system:masters) kubeconfig for kubectl and the controllers; returns its path. */
async function writeAdminKubeconfig(path: string, launch: ApiServerLaunch): Promise<string> {
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${launch.server}`,
    `    certificate-authority: ${launch.caFile}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${launch.adminToken}`,
    'contexts:',
    '- name: local',
    '  context: { cluster: local, user: admin }',
    'current-context: local',
    '',
  ];
  await writeFile(path, lines.join('\n'), { mode: 0o600 });
  return path;
}

/** kube-scheduler and kube-controller-manager, each when the options ask for it. */
async function startControllers(
  components: Components,
  options: ControlPlaneOptions,
  kubeconfig: string,
  saKey: string,
  caFile: string,
): Promise<void> {
  if (options.scheduler) {
    await components.start('kube-scheduler', [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
  }
  if (options.controllerManager) {
    await components.start('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${caFile}`,
      // No kubelet ever reports here: the node lifecycle controller would taint every node unreachable.
      '--controllers=*,-nodelifecycle,-nodeipam',
      '--v=1',
    ]);
  }
}

/** Runs kubectl with a kubeconfig; resolves with stdout, rejects with stderr. */
function runKubectl(
  kubectl: string,
  kubeconfig: string,
  args: readonly string[],
  input: string | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      errText += c.toString();
    });
    // 'close', not 'exit': the output may still be on its way when the process has exited.
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(' ')}: ${errText.trim()}`)),
    );
    child.stdin.end(input ?? '');
  });
}
