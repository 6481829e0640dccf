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
import { freePort, loopbackServingCertificate, postReview } from '@sidecar-destruct/testkit';
import { ROOT, sleep } from './lib.ts';
import type { AdmissionRaw, AdmissionRun } from './tables.ts';

export interface AdmissionSizes {
  readonly durationS: number;
  /** Fixed rates, requests per second. */
  readonly rates: readonly number[];
  /** Connections for the as-fast-as-it-can run. */
  readonly maxConnections: number;
}

/** A pod of a 3-container Deployment, as a ReplicaSet creates it, in an AdmissionReview (about 4 KB). */
export function realisticReview(): object {
  const container = (name: string, image: string) => ({
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
  });
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
          annotations: { 'sidecar-destruct.io/grace-period': '30s' },
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
        spec: {
          nodeSelector: { 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present': 'true' },
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  {
                    matchExpressions: [
                      { key: 'kubernetes.io/arch', operator: 'In', values: ['arm64', 'amd64'] },
                    ],
                  },
                ],
              },
            },
          },
          containers: [
            container('zigbee2mqtt', 'koenkk/zigbee2mqtt:2.1.1'),
            container('exporter', 'example/zigbee-exporter:1.4.0'),
            container('backup', 'example/backup:3.2.1'),
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
          serviceAccountName: 'default',
          serviceAccount: 'default',
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          schedulerName: 'default-scheduler',
          priority: 0,
          enableServiceLinks: true,
          preemptionPolicy: 'PreemptLowerPriority',
          tolerations: [
            {
              key: 'node.kubernetes.io/not-ready',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
            {
              key: 'node.kubernetes.io/unreachable',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
          ],
        },
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

export async function admissionBench(
  toolsDir: string,
  sizes: AdmissionSizes,
  log: (line: string) => void,
): Promise<AdmissionRaw> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-bench-'));
  const pair = loopbackServingCertificate('bench CA').serving;
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  await writeFile(certFile, pair.certPem);
  await writeFile(keyFile, pair.keyPem);
  const body = JSON.stringify(realisticReview());
  const bodyFile = join(dir, 'review.json');
  await writeFile(bodyFile, body);

  const start = async (args: string[]): Promise<{ port: number; server: ChildProcess }> => {
    const port = await freePort();
    const server = spawn(
      'taskset',
      ['-c', '0', process.execPath, ...args.map((a) => a.replace('PORT', String(port)))],
      {
        env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: 'sidecar-destruct-system' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // Read what it writes, as a container runtime does.
    server.stdout?.resume();
    server.stderr?.resume();
    await ready(port, body, server);
    return { port, server };
  };
  const servers: Array<{ server: string; logLevel: string; args: string[] }> = [
    { server: 'echo', logLevel: '—', args: [join(ROOT, 'bench/echo-server.ts'), certFile, keyFile, 'PORT'] },
    ...['info', 'warn'].map((logLevel) => ({
      server: 'webhook',
      logLevel,
      args: [
        join(ROOT, 'cli/dist/sidecar-destruct.mjs'),
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
  const vegeta = join(toolsDir, 'vegeta');
  const runs: AdmissionRun[] = [];
  try {
    for (const s of servers) {
      const { port, server } = await start(s.args);
      try {
        if (s.server === 'webhook') {
          const response = JSON.parse((await postReview({ port, body })).text);
          if (!response.response?.patch) throw new Error('the webhook did not inject the benchmark review');
        }
        for (const rate of [0, ...sizes.rates]) {
          const workers = rate === 0 ? sizes.maxConnections : 4;
          const samples = await attack(vegeta, dir, port, bodyFile, sizes.durationS, rate, workers);
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
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { reviewBytes: Buffer.byteLength(body), warmUpS: WARM_UP_S, runs };
}
