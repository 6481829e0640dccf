/**
 * Admission latency and throughput: vegeta (pinned to core 1; open loop at a fixed rate, latency per request in
 * nanoseconds) against the webhook's /mutate over TLS (pinned to core 0) with a realistic AdmissionReview, next to
 * a bare Fastify HTTPS route that echoes the same body on the same core. The webhook runs at the production log
 * level (`info`: one line per review, to a pipe this process reads, as a container runtime does) and at `warn`.
 * The reviews are dry runs, so the run measures decide → inject → patch and no API calls (in a cluster the
 * account check is remembered per namespace and account). The webhook is the bundle its image ships
 * (`cli/dist/sidecar-destruct.mjs`), started as the image starts it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GRACE_PERIOD_ANNOTATION, INSTALL_NAMESPACE } from '@sidecar-destruct/core';
import { freePort, loopbackServingCertificate, postReview, USB_LABEL } from '@sidecar-destruct/testkit';
import { sleep } from './lib.ts';
import { ROOT_DIR } from './results.ts';
import type { AdmissionRaw, AdmissionRun } from './tables.ts';

export interface AdmissionSizes {
  readonly durationS: number;
  /** Fixed rates, requests per second. */
  readonly rates: readonly number[];
  /** Connections for the as-fast-as-it-can run. */
  readonly maxConnections: number;
}

/** A container of the pod: as its Deployment declares it, with the fields the API server defaults. */
function zigbeeContainer(name: string, image: string): object {
  return {
    name,
    image,
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    env: [
      { name: 'TZ', value: 'Europe/Berlin' },
      { name: 'MQTT_SERVER', value: 'mqtt://mosquitto.home.svc.cluster.local:1883' },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [
      { name: 'data', mountPath: '/app/data' },
      { name: 'stick', mountPath: '/dev/zigbee' },
    ],
    livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  };
}

/** The pod spec as the Deployment's template declares it: the stick's label, three containers, their volumes. */
function zigbeeSpec(): object {
  return {
    nodeSelector: { [USB_LABEL]: 'true' },
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [{ key: 'kubernetes.io/arch', operator: 'In', values: ['arm64', 'amd64'] }],
            },
          ],
        },
      },
    },
    containers: [
      zigbeeContainer('zigbee2mqtt', 'koenkk/zigbee2mqtt:2.1.1'),
      zigbeeContainer('exporter', 'example/zigbee-exporter:1.4.0'),
      zigbeeContainer('backup', 'example/backup:3.2.1'),
    ],
    volumes: [
      { name: 'data', persistentVolumeClaim: { claimName: 'zigbee2mqtt-data' } },
      { name: 'stick', hostPath: { path: '/dev/zigbee', type: 'CharDevice' } },
    ],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/**
 * What the API server has added to the spec by the time a webhook sees it: defaults, the default service account,
 * a priority, and the not-ready and unreachable tolerations.
 */
const SPEC_DEFAULTS = {
  serviceAccountName: 'default',
  serviceAccount: 'default',
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
  dnsPolicy: 'ClusterFirst',
  schedulerName: 'default-scheduler',
  priority: 0,
  enableServiceLinks: true,
  preemptionPolicy: 'PreemptLowerPriority',
  tolerations: ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({
    key,
    operator: 'Exists',
    effect: 'NoExecute',
    tolerationSeconds: 300,
  })),
};

/** A pod of a 3-container Deployment, as a ReplicaSet creates it, in a dry-run AdmissionReview (about 4 KB). */
export function realisticReview(): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'home',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts'],
      },
      dryRun: true,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'zigbee2mqtt-7d4b9c6f5-',
          namespace: 'home',
          labels: { 'app.kubernetes.io/name': 'zigbee2mqtt', 'pod-template-hash': '7d4b9c6f5' },
          annotations: { [GRACE_PERIOD_ANNOTATION]: '30s' },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: 'zigbee2mqtt-7d4b9c6f5',
              uid: '11111111-2222-4333-8444-555555555555',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { ...zigbeeSpec(), ...SPEC_DEFAULTS },
      },
    },
  };
}

async function ready(port: number, body: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
    try {
      if ((await postReview({ port, body })).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server not ready within 20 s');
    await sleep(100);
  }
}

/** Runs `vegeta attack` on core 1 until it exits; its binary results go to `output`. */
function vegetaAttack(
  vegeta: string,
  target: string,
  args: readonly string[],
  output: string,
): Promise<void> {
  // A self-signed certificate on loopback: -insecure.
  const attacker = spawn(
    'taskset',
    ['-c', '1', vegeta, 'attack', '-format=http', '-insecure', `-output=${output}`, ...args],
    { stdio: ['pipe', 'ignore', 'inherit'], env: { PATH: process.env.PATH ?? '', GOMAXPROCS: '1' } },
  );
  attacker.stdin.end(target);
  return new Promise((resolve, reject) =>
    attacker.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`vegeta attack exited ${code}`)),
    ),
  );
}

/**
 * One measured attack after a warm-up at the same rate (new connections' TLS handshakes and the server's first
 * requests would otherwise be the tail). The results are encoded after the attack, so that nothing but the server
 * and the load generator runs during it. Resolves with every request's latency (µs) and status.
 */
async function attack(
  vegeta: string,
  dir: string,
  port: number,
  bodyFile: string,
  durationS: number,
  rate: number,
  workers: number,
): Promise<Pick<AdmissionRun, 'latenciesUs' | 'codes'>> {
  const target = `POST https://127.0.0.1:${port}/mutate\nContent-Type: application/json\n@${bodyFile}\n`;
  const rateArgs = rate === 0 ? ['-rate=0', `-max-workers=${workers}`] : [`-rate=${rate}/s`, '-workers=4'];
  await vegetaAttack(vegeta, target, [`-duration=${WARM_UP_S}s`, ...rateArgs], '/dev/null');
  const results = join(dir, 'results.bin');
  await vegetaAttack(vegeta, target, [`-duration=${durationS}s`, ...rateArgs], results);
  const encoder = spawn(vegeta, ['encode', '--to=json', results], { stdio: ['ignore', 'pipe', 'inherit'] });
  const latenciesUs: number[] = [];
  const codes: number[] = [];
  for await (const line of createInterface({ input: encoder.stdout })) {
    const r = JSON.parse(line) as { latency: number; code: number };
    latenciesUs.push(Math.round(r.latency / 1_000));
    codes.push(r.code);
  }
  return { latenciesUs, codes };
}

/** Seconds of load before each measured attack, discarded. */
const WARM_UP_S = 2;

/** The files a run needs: the loopback serving certificate and key, and the review as vegeta sends it. */
interface Inputs {
  readonly certFile: string;
  readonly keyFile: string;
  readonly body: string;
  readonly bodyFile: string;
}

async function writeInputs(dir: string): Promise<Inputs> {
  const pair = loopbackServingCertificate('bench CA').serving;
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  await writeFile(certFile, pair.certPem);
  await writeFile(keyFile, pair.keyPem);
  const body = JSON.stringify(realisticReview());
  const bodyFile = join(dir, 'review.json');
  await writeFile(bodyFile, body);
  return { certFile, keyFile, body, bodyFile };
}

/** A server under test: the command after `node` (PORT stands for its port) and how the tables name it. */
interface ServerUnderTest {
  readonly server: 'echo' | 'webhook';
  readonly logLevel: string;
  readonly args: readonly string[];
}

/** The echo baseline, then the webhook's bundle as its image starts it, at the production log level and at `warn`. */
function serversUnderTest({ certFile, keyFile }: Inputs): ServerUnderTest[] {
  return [
    {
      server: 'echo',
      logLevel: '—',
      args: [join(ROOT_DIR, 'bench/echo-server.ts'), certFile, keyFile, 'PORT'],
    },
    ...['info', 'warn'].map((logLevel) => ({
      server: 'webhook' as const,
      logLevel,
      args: [
        join(ROOT_DIR, 'cli/dist/sidecar-destruct.mjs'),
        'webhook',
        '--host=127.0.0.1',
        '--port=PORT',
        `--tls-cert-file=${certFile}`,
        `--tls-key-file=${keyFile}`,
        '--sidecar-mode=native',
        `--log-level=${logLevel}`,
        '--kubeconfig=/dev/null/none',
      ],
    })),
  ];
}

/** Starts a server on core 0 and a free port; resolves once it answers the review. */
async function startServer(
  args: readonly string[],
  body: string,
): Promise<{ port: number; server: ChildProcess }> {
  const port = await freePort();
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, ...args.map((a) => a.replace('PORT', String(port)))],
    {
      env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: INSTALL_NAMESPACE },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Read what it writes, as a container runtime does.
  server.stdout?.resume();
  server.stderr?.resume();
  await ready(port, body, server);
  return { port, server };
}

/** Every rate against one server: as fast as it can, then each fixed rate. */
async function measureServer(
  s: ServerUnderTest,
  inputs: Inputs,
  vegeta: string,
  dir: string,
  sizes: AdmissionSizes,
  log: (line: string) => void,
): Promise<AdmissionRun[]> {
  const { port, server } = await startServer(s.args, inputs.body);
  const runs: AdmissionRun[] = [];
  try {
    if (s.server === 'webhook') {
      const response = JSON.parse((await postReview({ port, body: inputs.body })).text);
      if (!response.response?.patch) throw new Error('the webhook did not inject the benchmark review');
    }
    for (const rate of [0, ...sizes.rates]) {
      const workers = rate === 0 ? sizes.maxConnections : 4;
      const samples = await attack(vegeta, dir, port, inputs.bodyFile, sizes.durationS, rate, workers);
      runs.push({
        server: s.server,
        logLevel: s.logLevel,
        rate,
        workers,
        durationS: sizes.durationS,
        ...samples,
      });
      log(
        `admission: ${s.server} ${s.logLevel} rate ${rate || 'max'}: ${samples.latenciesUs.length} requests`,
      );
    }
  } finally {
    server.kill('SIGTERM');
  }
  return runs;
}

export async function admissionBench(
  toolsDir: string,
  sizes: AdmissionSizes,
  log: (line: string) => void,
): Promise<AdmissionRaw> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-bench-'));
  try {
    const inputs = await writeInputs(dir);
    const runs: AdmissionRun[] = [];
    for (const s of serversUnderTest(inputs)) {
      runs.push(...(await measureServer(s, inputs, join(toolsDir, 'vegeta'), dir, sizes, log)));
    }
    return { reviewBytes: Buffer.byteLength(inputs.body), warmUpS: WARM_UP_S, runs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
