/**
 * Sidecar benchmark (a script, not a test): against a real local kube-apiserver, measures
 * 1. steady-state RSS of the sidecar next to a bare idle Node process, in the same run;
 * 2. start-to-watch: process start until the node watch is established (the sidecar logs it);
 * 3. reaction time: node label removed until the pod is being deleted, over many trials.
 * Prints a table and writes bench/results/sidecar.json and .md.
 *
 *   node bench/sidecar.ts [--samples 5] [--trials 20] [--settle-ms 5000] [--out bench/results]
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { sidecarEnv } from '@sidecar-destruct/sidecar/core';
import { SIDECAR_NODE_FLAGS } from '@sidecar-destruct/sidecar/main';
import { type ControlPlane, startControlPlane, startSidecar } from '@sidecar-destruct/test';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '5' },
    trials: { type: 'string', default: '20' },
    'settle-ms': { type: 'string', default: '5000' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const SAMPLES = Number(values.samples);
const TRIALS = Number(values.trials);
const SETTLE_MS = Number(values['settle-ms']);
const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
const NS = 'bench';

const median = (xs: number[]): number => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] ?? 0) + ((sorted[hi] ?? 0) - (sorted[lo] ?? 0)) * (i - lo);
}

interface Memory {
  /** VmRSS: what the target is stated in. */
  readonly rss: number;
  /** RssAnon: private memory, what each additional pod really costs; file pages of the node binary are shared. */
  readonly anon: number;
}

async function memoryMb(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: field('VmRSS'), anon: field('RssAnon') };
}

async function rest(cp: ControlPlane, method: string, path: string, body?: unknown, contentType?: string) {
  const reply = await cp.rest(method, path, body, contentType ? { contentType } : {});
  if (reply.status >= 300)
    throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

async function setup(cp: ControlPlane): Promise<void> {
  await cp.kubectl(['apply', '-f', '-'], await readFile('deploy/base/sidecar-rbac.yaml', 'utf8'));
  await rest(cp, 'POST', '/api/v1/namespaces', { metadata: { name: NS } });
  await rest(cp, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts`, {
    metadata: { name: 'sidecar-destruct' },
  });
  const subject = { kind: 'ServiceAccount', name: 'sidecar-destruct', namespace: NS };
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });
  await rest(cp, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
    metadata: { name: 'sidecar-destruct-sidecar' },
    roleRef: roleRef('sidecar-destruct-sidecar'),
    subjects: [subject],
  });
  await rest(cp, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: `sidecar-destruct-node-reader:${NS}` },
    roleRef: roleRef('sidecar-destruct-node-reader'),
    subjects: [subject],
  });
}

/** A node with the USB label and a pod on it carrying the sidecar; returns the running sidecar. */
async function podWithSidecar(cp: ControlPlane, name: string) {
  await rest(cp, 'POST', '/api/v1/nodes', { metadata: { name, labels: { [USB]: 'true' } } });
  const env = sidecarEnv(
    { source: 'pod', nodeSelector: { [USB]: 'true' } },
    { gracePeriodMs: 0, action: 'delete', dryRun: false },
  );
  const pod = await rest(cp, 'POST', `/api/v1/namespaces/${NS}/pods`, {
    metadata: { name },
    spec: {
      nodeName: name,
      serviceAccountName: 'sidecar-destruct',
      initContainers: [
        { name: 'sidecar-destruct', image: 'sidecar-destruct:dev', restartPolicy: 'Always', env },
      ],
      containers: [{ name: 'app', image: 'busybox' }],
    },
  });
  const sidecar = await startSidecar(cp, NS, name);
  const watching = await sidecar.waitForLog((l) => l.msg === 'watching the node', 30_000);
  return { sidecar, uid: pod.metadata.uid as string, startupMs: watching.startupMs as number };
}

async function idleProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Memory> {
  const child = spawn(process.execPath, args, {
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  await sleep(SETTLE_MS);
  const memory = await memoryMb(child.pid ?? 0);
  child.kill();
  return memory;
}

/**
 * The floor for any Node sidecar: a process that only holds one HTTPS watch on the same API server, with the
 * sidecar's Node flags. What the sidecar uses above this is its own code.
 */
const TLS_WATCH_FLOOR = `
const { request, Agent } = require('node:https');
const agent = new Agent({ keepAlive: true, ca: require('node:fs').readFileSync(process.env.CA) });
request(new URL('/api/v1/nodes?watch=true', process.env.SERVER), { agent, headers: { authorization: 'Bearer ' + process.env.TOKEN } },
  (res) => res.resume()).end();
setInterval(() => {}, 1 << 30);`;

const cp = await startControlPlane();
try {
  await setup(cp);
  const bare: Memory[] = [];
  const floor: Memory[] = [];
  const side: Memory[] = [];
  const startup: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    bare.push(await idleProcess(['-e', 'setInterval(() => {}, 1 << 30)']));
    floor.push(
      await idleProcess([...SIDECAR_NODE_FLAGS, '-e', TLS_WATCH_FLOOR], {
        SERVER: cp.server,
        CA: cp.caFile,
        TOKEN: cp.adminToken,
      }),
    );
    const { sidecar, startupMs } = await podWithSidecar(cp, `footprint-${i}`);
    startup.push(startupMs);
    await sleep(SETTLE_MS);
    side.push(await memoryMb(sidecar.child.pid ?? 0));
    await sidecar.stop();
  }

  const reaction: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const name = `reaction-${i}`;
    const { sidecar, uid } = await podWithSidecar(cp, name);
    const t0 = performance.now();
    await rest(
      cp,
      'PATCH',
      `/api/v1/nodes/${name}`,
      { metadata: { labels: { [USB]: null } } },
      'application/merge-patch+json',
    );
    for (;;) {
      const reply = await cp.rest('GET', `/api/v1/namespaces/${NS}/pods/${name}`);
      if (
        reply.status === 404 ||
        reply.body?.metadata?.uid !== uid ||
        reply.body?.metadata?.deletionTimestamp
      )
        break;
      if (performance.now() - t0 > 10_000) throw new Error(`trial ${i}: pod not deleted within 10 s`);
      await sleep(5);
    }
    reaction.push(performance.now() - t0);
    await sidecar.stop();
  }

  const m = (xs: Memory[], key: keyof Memory) => median(xs.map((x) => x[key]));
  const rssRatio = m(side, 'rss') / m(bare, 'rss');
  const rows = [
    ['steady-state RSS, bare idle node (MB)', m(bare, 'rss').toFixed(1), '1.00', ''],
    [
      'steady-state RSS, node holding one HTTPS watch, no sidecar code (MB)',
      m(floor, 'rss').toFixed(1),
      (m(floor, 'rss') / m(bare, 'rss')).toFixed(2),
      '',
    ],
    ['steady-state RSS, sidecar (MB)', m(side, 'rss').toFixed(1), rssRatio.toFixed(2), '<= 1.25x'],
    ['private (RssAnon) memory, bare idle node (MB)', m(bare, 'anon').toFixed(1), '1.00', ''],
    [
      'private (RssAnon) memory, sidecar (MB)',
      m(side, 'anon').toFixed(1),
      (m(side, 'anon') / m(bare, 'anon')).toFixed(2),
      '',
    ],
    ['start-to-watch, median (ms)', median(startup).toFixed(0), '', '<= 300'],
    ['start-to-watch, max (ms)', Math.max(...startup).toFixed(0), '', ''],
    [
      `reaction label removed -> pod deleting, p50 (ms), ${reaction.length} trials`,
      quantile(reaction, 0.5).toFixed(0),
      '',
      '',
    ],
    [`reaction, p99 (ms)`, quantile(reaction, 0.99).toFixed(0), '', '< 1000'],
  ];
  const header = `sidecar benchmark: ${new Date().toISOString()}; node ${process.version}; ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; kube-apiserver ${await cp.kubectl(['version', '-o', 'json']).then((j) => JSON.parse(j).serverVersion.gitVersion)}; ${SAMPLES} samples, ${TRIALS} trials, settle ${SETTLE_MS} ms`;
  const md = [
    header,
    '',
    '| measure | value | ratio to the bare node | target |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  console.log(md);
  await mkdir(values.out, { recursive: true });
  await writeFile(
    join(values.out, 'sidecar.json'),
    `${JSON.stringify({ header, bareMb: bare, httpsWatchFloorMb: floor, sidecarMb: side, rssRatio, startupMs: startup, reactionMs: reaction }, null, 2)}\n`,
  );
  await writeFile(join(values.out, 'sidecar.md'), `${md}\n`);
} finally {
  await cp.stop();
}
