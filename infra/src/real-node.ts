/**
 * A real node on this machine: containerd, runc and a kubelet joined to the harness's control plane, running
 * pods from images imported into containerd (no registry). Host changes (addresses on lo, the CNI bridge,
 * sysctls, mounts, cgroups, processes) are recorded and undone by infra/node/host.sh, which also cleans what a
 * killed run left behind at the next start. Needs Linux and root; `realNodeUnavailable()` says why not.
 *
 * Network: the node IP and the kubernetes Service IP are /32s on lo; pods sit on a bridge with routes to those
 * two addresses only (no default route, no masquerade). A relay in this process forwards the Service IP's port
 * 443 to the API server on 127.0.0.1, standing in for kube-proxy.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { copyFile, cp as copyTree, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { arch, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { V1Node } from '@kubernetes/client-node';
import { type ControlPlane, MERGE_PATCH } from '@sidecar-destruct/testkit';
import { buildStep, lines, NODE_SCRIPTS, ROOT, shippedImages } from './build-step.js';

const run = promisify(execFile);

const REAL_NODE_NETWORK = {
  /** The kubelet refuses 127.x as its node IP; a /32 on lo keeps everything on this machine. */
  nodeIp: '10.254.254.1',
  /** The first address of the harness's --service-cluster-ip-range: the `kubernetes` Service. */
  serviceIp: '10.96.0.1',
  bridge: 'sdnode0',
  podSubnet: '10.88.77.0/24',
} as const;

export const REAL_NODE_DIR =
  process.env.SIDECAR_DESTRUCT_REAL_NODE_DIR ?? '/var/tmp/sidecar-destruct-real-node';
const NODE_DIR = join(REAL_NODE_DIR, 'node');
const CONTAINERD_LOG = join(NODE_DIR, 'containerd.log');
const KUBELET_LOG = join(NODE_DIR, 'kubelet.log');
const CONTAINERD_SOCKET = join(NODE_DIR, 'containerd/containerd.sock');
/** Where the last run's kubelet, containerd and pod logs are kept once the node is gone. */
export const REAL_NODE_LOGS = join(tmpdir(), 'sidecar-destruct-real-node-logs');

/** Why this host cannot run a kubelet, or undefined when it can. */
export async function realNodeUnavailable(): Promise<string | undefined> {
  try {
    await run('bash', [join(NODE_SCRIPTS, 'host.sh'), 'check']);
    return undefined;
  } catch (e) {
    const out = (e as { stdout?: string }).stdout?.trim();
    return out || (e as Error).message;
  }
}

export interface RealNodeBuild {
  /** containerd, containerd-shim-runc-v2, ctr, runc, CNI plugins, pause */
  readonly nodeBin: string;
  /** The control plane's directory, which also holds kubelet. */
  readonly kubelet: string;
  /** OCI archives to import: the shipped images and the node's own (pause, the example's app stand-in). */
  readonly images: readonly string[];
  readonly shipped: Readonly<
    Record<'sidecar' | 'webhook', { name: string; digest: string; archive: string }>
  >;
}

/** Builds (or finds in the cache) everything a real node runs; progress goes to stderr. */
export async function buildRealNode(): Promise<RealNodeBuild> {
  const built = await buildStep(join(NODE_SCRIPTS, 'build.sh'));
  const [nodeBin, cpBin] = built.slice(-2);
  if (!nodeBin || !cpBin) throw new Error(`infra/node/build.sh printed no directories: ${built.join(' | ')}`);
  const shipped = await shippedImages();
  const own = await buildStep(join(NODE_SCRIPTS, 'images.sh'), [join(nodeBin, 'pause')]);
  return {
    nodeBin,
    kubelet: join(cpBin, 'kubelet'),
    images: [shipped.sidecar.archive, shipped.webhook.archive, ...own],
    shipped,
  };
}

export interface RealNode {
  readonly name: string;
  readonly dir: string;
  readonly containerdLog: string;
  readonly kubeletLog: string;
  /** The watched sysctls as they were before the node changed anything (see `watchedSysctls`). */
  readonly sysctlsBefore: ReadonlyMap<string, string>;
  /** Runs ctr against this node's containerd, in the k8s.io namespace. */
  ctr(args: readonly string[]): Promise<string>;
  /** Process ids, for memory figures: kubelet, containerd, and the runc shims (one per pod). */
  pids(): { kubelet?: number; containerd?: number; shims: number[] };
  /** Peak memory (bytes) of a container's cgroup, from the kernel's own counter; undefined once it is gone. */
  containerPeakMemory(podUid: string, containerId: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export interface RealNodeOptions {
  readonly name: string;
  /** A static token the API server maps to system:node:NAME in system:nodes. */
  readonly token: string;
  readonly build: RealNodeBuild;
  readonly labels?: Readonly<Record<string, string>>;
}

interface Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function startProcess(command: string, args: readonly string[], logFile: string): Proc {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

async function stopProcess(proc: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  if (!(await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]))) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

async function tail(path: string, n = 20): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '(no log)');
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** Forwards SERVICE_IP:443 to the API server, as kube-proxy would. */
async function startRelay(server: string): Promise<{ close(): Promise<void> }> {
  const { hostname, port } = new URL(server);
  const sockets = new Set<Socket>();
  const relay = createServer((socket) => {
    const upstream = connect(Number(port), hostname);
    // close() waits for every connection to end, and a sidecar's watch never does: end them on close.
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(443, REAL_NODE_NETWORK.serviceIp, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}

function containerdConfig(nodeBin: string): string {
  return `version = 3
root = "${NODE_DIR}/containerd/root"
state = "${NODE_DIR}/containerd/state"
[grpc]
  address = "${NODE_DIR}/containerd/containerd.sock"
[ttrpc]
  address = "${NODE_DIR}/containerd/containerd.sock.ttrpc"
[debug]
  level = "info"
[metrics]
  address = ""
[plugins.'io.containerd.nri.v1.nri']
  disable = true
# Not /opt/containerd: nothing of the node outside its directory.
[plugins.'io.containerd.internal.v1.opt']
  path = "${NODE_DIR}/opt"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "registry.k8s.io/pause:3.10.2"
[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  # This host lacks CAP_SYS_RESOURCE: the sandbox's oom_score_adj of -998 cannot be written.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "${join(nodeBin, 'runc')}"
        Root = "${NODE_DIR}/run/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["${nodeBin}"]
    conf_dir = "${NODE_DIR}/cni/net.d"
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function cniConfig(): string {
  const { bridge, podSubnet, nodeIp, serviceIp } = REAL_NODE_NETWORK;
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'sidecar-destruct',
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          isDefaultGateway: false,
          ipMasq: false,
          ipam: {
            type: 'host-local',
            dataDir: `${NODE_DIR}/cni/ipam`,
            ranges: [[{ subnet: podSubnet }]],
            // Only the addresses the test owns: no default route leaves the pods.
            routes: [{ dst: `${nodeIp}/32` }, { dst: `${serviceIp}/32` }],
          },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# A cgroup v1 (hybrid) host: 1.35+ refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
# No CAP_SYS_RESOURCE here: the kubelet cannot lower its own oom_score_adj to -999.
oomScoreAdj: 0
containerRuntimeEndpoint: unix://${NODE_DIR}/containerd/containerd.sock
imageServiceEndpoint: unix://${NODE_DIR}/containerd/containerd.sock
address: ${REAL_NODE_NETWORK.nodeIp}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization:
  mode: AlwaysAllow
podLogsDir: ${NODE_DIR}/pod-logs
clusterDomain: cluster.local
# No DNS: the pods have no route to any resolver, and need none.
resolvConf: ""
maxPods: 20
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
# The imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
`;
}

const running = new Set<() => Promise<void>>();

/** The containerd-shim-runc-v2 processes of this node (they leave containerd's process tree). */
function shimPids(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('containerd-shim-runc-v2') && cmdline.includes(NODE_DIR))
        found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Stops every real node this process started (for Ctrl-C in the demo). */
export async function stopAllRealNodes(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

async function hostUp(args: readonly string[], timeoutMs = 15 * 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (let said = false; ; said = true) {
    try {
      return (await run('bash', args)).stderr;
    } catch (e) {
      const { code, stderr } = e as { code?: number; stderr?: string };
      if (code !== 3 || Date.now() > deadline) throw new Error(`infra/node/host.sh up: ${stderr ?? e}`);
      if (!said) console.error(`${stderr?.trim()}; waiting`);
      await sleep(5_000);
    }
  }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, log: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} after ${timeoutMs / 1000} s:\n${await tail(log)}`);
    await sleep(200);
  }
}

/**
 * Starts containerd and a kubelet named `options.name`, imports the images, waits until the Node is Ready and
 * lifts the not-ready taint that admission puts on new nodes (no node lifecycle controller runs here).
 */
export async function startRealNode(cp: ControlPlane, options: RealNodeOptions): Promise<RealNode> {
  const { name, build } = options;
  const sysctlsBefore = await prepareHost(build.nodeBin);
  const node = new NodeComponents(build);
  const stop = async (): Promise<void> => {
    running.delete(stop);
    await node.stop();
  };
  running.add(stop);
  try {
    await writeNodeFiles(cp, options.token, build.nodeBin);
    await node.startRelay(cp.server);
    await node.startContainerd();
    node.startKubelet(name);
    await untilNodeReady(cp, name, node);
    await admitNode(cp, name, options.labels ?? {});
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  return {
    name,
    dir: NODE_DIR,
    containerdLog: CONTAINERD_LOG,
    kubeletLog: KUBELET_LOG,
    sysctlsBefore,
    ctr: (args) => runCtr(build.nodeBin, args),
    pids: () => node.pids(),
    containerPeakMemory,
    stop,
  };
}

/**
 * Cleans what a killed run left (and restores its sysctls) before anything is recorded, and returns the watched
 * sysctls as they are then. One real node per machine (fixed addresses and ports): a second run waits for the
 * first one's teardown.
 */
async function prepareHost(nodeBin: string): Promise<Map<string, string>> {
  const { nodeIp, serviceIp, bridge } = REAL_NODE_NETWORK;
  const runc = join(nodeBin, 'runc');
  const up = await hostUp([
    join(NODE_SCRIPTS, 'host.sh'),
    'up',
    String(process.pid),
    nodeIp,
    serviceIp,
    bridge,
    runc,
  ]);
  if (up.trim()) console.error(up.trim());
  const sysctlsBefore = await watchedSysctls();
  await rm(REAL_NODE_LOGS, { recursive: true, force: true });
  return sysctlsBefore;
}

/** containerd's, the CNI's and the kubelet's configuration, and the kubelet's kubeconfig. */
async function writeNodeFiles(cp: ControlPlane, token: string, nodeBin: string): Promise<void> {
  await mkdir(join(NODE_DIR, 'cni/net.d'), { recursive: true });
  await mkdir(join(NODE_DIR, 'containerd'), { recursive: true });
  await writeFile(join(NODE_DIR, 'containerd.toml'), containerdConfig(nodeBin));
  await writeFile(join(NODE_DIR, 'cni/net.d/10-sidecar-destruct.conflist'), cniConfig());
  await writeFile(join(NODE_DIR, 'kubelet.yaml'), kubeletConfig());
  await writeFile(join(NODE_DIR, 'kubelet.kubeconfig'), kubeletKubeconfig(cp, token), { mode: 0o600 });
}

function kubeletKubeconfig(cp: ControlPlane, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: local, cluster: { server: "${cp.server}", certificate-authority: "${cp.caFile}" } }]`,
    `users: [{ name: kubelet, user: { token: "${token}" } }]`,
    'contexts: [{ name: local, context: { cluster: local, user: kubelet } }]',
    'current-context: local',
    '',
  ].join('\n');
}

/** Runs ctr against this node's containerd, in the k8s.io namespace. */
async function runCtr(nodeBin: string, args: readonly string[]): Promise<string> {
  const ctr = join(nodeBin, 'ctr');
  const { stdout } = await run(ctr, ['--address', CONTAINERD_SOCKET, '--namespace', 'k8s.io', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** The node's processes and the Service relay, started one by one, and the teardown that undoes them all. */
class NodeComponents {
  private containerd: Proc | undefined;
  private kubelet: Proc | undefined;
  private relay: { close(): Promise<void> } | undefined;

  constructor(private readonly build: RealNodeBuild) {}

  async startRelay(server: string): Promise<void> {
    this.relay = await startRelay(server);
  }

  /** Starts containerd, waits until it serves, and imports the images for this machine's platform. */
  async startContainerd(): Promise<void> {
    const { nodeBin, images } = this.build;
    const config = join(NODE_DIR, 'containerd.toml');
    this.containerd = startProcess(join(nodeBin, 'containerd'), ['--config', config], CONTAINERD_LOG);
    const serving = async () => ((await runCtr(nodeBin, ['version'])) ? true : undefined);
    await waitFor('containerd not serving', serving, 30_000, CONTAINERD_LOG);
    const platform = `linux/${arch() === 'x64' ? 'amd64' : arch()}`;
    for (const archive of images) {
      await runCtr(nodeBin, ['images', 'import', '--platform', platform, archive]);
    }
  }

  startKubelet(name: string): void {
    this.kubelet = startProcess(
      this.build.kubelet,
      [
        `--config=${join(NODE_DIR, 'kubelet.yaml')}`,
        `--kubeconfig=${join(NODE_DIR, 'kubelet.kubeconfig')}`,
        `--root-dir=${join(NODE_DIR, 'kubelet')}`,
        `--hostname-override=${name}`,
        `--node-ip=${REAL_NODE_NETWORK.nodeIp}`,
        '--v=2',
      ],
      KUBELET_LOG,
    );
  }

  kubeletRunning(): boolean {
    return this.kubelet?.child.exitCode === null;
  }

  pids(): { kubelet?: number; containerd?: number; shims: number[] } {
    return { kubelet: this.kubelet?.child.pid, containerd: this.containerd?.child.pid, shims: shimPids() };
  }

  /** The kubelet first; the logs kept; then host.sh stops the rest and restores the host; containerd last. */
  async stop(): Promise<void> {
    await stopProcess(this.kubelet);
    await keepLogs();
    await this.relay?.close();
    // host.sh stops the containers, shims and containerd, unmounts, and restores the host.
    await run('bash', [join(NODE_SCRIPTS, 'host.sh'), 'down'], { maxBuffer: 4 * 1024 * 1024 }).catch((e) => {
      throw new Error(`infra/node/host.sh down failed: ${(e as { stderr?: string }).stderr ?? e}`);
    });
    await stopProcess(this.containerd, 2_000);
  }
}

/** The node's logs outlive it (its directory goes), for a failure's post-mortem. */
async function keepLogs(): Promise<void> {
  await mkdir(REAL_NODE_LOGS, { recursive: true });
  for (const log of [CONTAINERD_LOG, KUBELET_LOG]) {
    await copyFile(log, join(REAL_NODE_LOGS, basename(log))).catch(() => {});
  }
  await copyTree(join(NODE_DIR, 'pod-logs'), join(REAL_NODE_LOGS, 'pod-logs'), { recursive: true }).catch(
    () => {},
  );
}

async function untilNodeReady(cp: ControlPlane, name: string, node: NodeComponents): Promise<void> {
  await waitFor(
    `node ${name} not Ready`,
    async () => {
      if (!node.kubeletRunning()) throw new Error('kubelet exited');
      const got = await cp.rest('GET', `/api/v1/nodes/${name}`);
      const ready = (got.body as V1Node).status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );
      return ready ? true : undefined;
    },
    120_000,
    KUBELET_LOG,
  );
}

/** Puts the node's labels on and lifts its taints: admission marks a new node not-ready, and nothing else would. */
async function admitNode(
  cp: ControlPlane,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<void> {
  const patched = await cp.rest(
    'PATCH',
    `/api/v1/nodes/${name}`,
    { metadata: { labels }, spec: { taints: null } },
    { contentType: MERGE_PATCH },
  );
  if (patched.status !== 200) throw new Error(`cannot label node ${name}: ${JSON.stringify(patched.body)}`);
}

/** Peak memory (bytes) of a container's cgroup, from the kernel's own counter; undefined once it is gone. */
async function containerPeakMemory(podUid: string, containerId: string): Promise<number | undefined> {
  // cgroup v1: memory/kubepods[/<qos>]/pod<uid>/<id>/memory.max_usage_in_bytes; v2: …/memory.peak
  for (const base of ['/sys/fs/cgroup/memory/kubepods', '/sys/fs/cgroup/kubepods']) {
    for (const qos of ['', 'burstable', 'besteffort']) {
      const dir = join(base, qos, `pod${podUid}`, containerId);
      for (const file of ['memory.max_usage_in_bytes', 'memory.peak']) {
        const text = await readFile(join(dir, file), 'utf8').catch(() => undefined);
        if (text !== undefined) return Number(text.trim());
      }
    }
  }
  return undefined;
}

/** Anything of a real node still on this host (processes, cgroups, mounts, addresses); empty when clean. */
export async function realNodeLeftovers(): Promise<string[]> {
  const { stdout } = await run('bash', [
    join(NODE_SCRIPTS, 'host.sh'),
    'leftovers',
    REAL_NODE_NETWORK.nodeIp,
    REAL_NODE_NETWORK.serviceIp,
  ]);
  const found = lines(stdout);
  const links = await readdir('/sys/class/net').catch(() => [] as string[]);
  if (links.includes(REAL_NODE_NETWORK.bridge)) found.push(`link ${REAL_NODE_NETWORK.bridge}`);
  return found;
}

/** The host's sysctls that a kubelet, containerd or the CNI bridge may change (teardown restores them). */
export async function watchedSysctls(): Promise<Map<string, string>> {
  const { stdout } = await run('bash', [join(NODE_SCRIPTS, 'host.sh'), 'sysctls'], {
    maxBuffer: 8 * 1024 * 1024,
  });
  return new Map(
    lines(stdout).map((l) => {
      const at = l.indexOf(' = ');
      return [l.slice(0, at), l.slice(at + 3)] as [string, string];
    }),
  );
}

/**
 * go-containerregistry's in-memory registry (cmd/registry, from the module images/ocibuild already uses) on a
 * loopback port: the push route of images/build.sh, and a pull by containerd, without leaving this machine.
 */
export async function startLocalRegistry(): Promise<{ host: string; stop(): Promise<void> }> {
  const [tool] = await buildStep(join(ROOT, 'images/build.sh'), ['--tool']);
  if (!tool) throw new Error('images/build.sh --tool printed nothing');
  const binary = join(tool, '..', 'registry');
  await run(
    'go',
    ['build', '-trimpath', '-o', binary, 'github.com/google/go-containerregistry/cmd/registry'],
    {
      cwd: join(ROOT, 'images/ocibuild'),
      env: { ...process.env, CGO_ENABLED: '0' },
    },
  );
  const child = spawn(binary, ['-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`the registry did not start: ${text}`)), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = /serving on port (\d+)/.exec(text)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
  });
  return {
    host: `localhost:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
