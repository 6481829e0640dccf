/**
 * Admission throughput and latency: autocannon (pinned to core 1) against the webhook's /mutate over TLS (pinned
 * to core 0) with a realistic AdmissionReview, next to a bare Fastify HTTPS route that echoes the same body on
 * the same core. The reviews are dry runs, so the run measures decide → inject → patch and no API calls (in a
 * cluster the account check is remembered for 10 minutes per namespace and account).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority, createServingCertificate } from '@sidecar-destruct/certs';
import { freePort } from '@sidecar-destruct/test';
import { postReview } from '../webhook/test/https.ts';
import { sleep, type Table } from './lib.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface AdmissionOptions {
  readonly durationS: number;
  readonly fixedRate: number;
  /** Connections for the throughput runs. */
  readonly connections: number;
}

/**
 * Connections for the fixed-rate runs. autocannon paces a rate per connection in bursts: with 20 connections even
 * the echo shows a p99 over 40 ms at 1,000 requests/s (measured), which is the load generator, not the server.
 * The API server keeps a few connections per webhook, so a handful is also the realistic shape.
 */
const FIXED_RATE_CONNECTIONS = 4;

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

const post = (port: number, body: string) => postReview({ port, body });

async function ready(port: number, body: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
    try {
      if ((await post(port, body)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('server not ready within 20 s');
    await sleep(100);
  }
}

interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
}

function autocannon(
  port: number,
  bodyFile: string,
  durationS: number,
  connections: number,
  rate?: number,
): Promise<Load> {
  const args = [
    '-c',
    '1',
    'node',
    join(ROOT, 'node_modules/autocannon/autocannon.js'),
    '--json',
    '-c',
    String(connections),
    '-d',
    String(durationS),
    '-m',
    'POST',
    '-H',
    'content-type=application/json',
    '-i',
    bodyFile,
    ...(rate ? ['-R', String(rate)] : []),
    `https://127.0.0.1:${port}/mutate`,
  ];
  return new Promise((resolve, reject) => {
    // Self-signed certificate of a loopback benchmark.
    const child = spawn('taskset', args, {
      env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) => {
      try {
        const r = JSON.parse(out);
        resolve({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          failures: r.errors + r.timeouts + r.non2xx,
        });
      } catch {
        reject(new Error(`autocannon failed (${code}): ${out.slice(0, 200)}`));
      }
    });
  });
}

export async function admissionBench(options: AdmissionOptions): Promise<Table> {
  const dir = await mkdtemp(join(tmpdir(), 'sidecar-destruct-bench-'));
  const ca = createCertificateAuthority('bench CA', { validityDays: 1 });
  const pair = createServingCertificate(ca, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
  });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  await writeFile(certFile, pair.certPem);
  await writeFile(keyFile, pair.keyPem);
  const body = JSON.stringify(realisticReview());
  const bodyFile = join(dir, 'review.json');
  await writeFile(bodyFile, body);

  const servers: ChildProcess[] = [];
  const start = async (args: string[]): Promise<number> => {
    const port = await freePort();
    const child = spawn(
      'taskset',
      ['-c', '0', process.execPath, ...args.map((a) => a.replace('PORT', String(port)))],
      {
        env: { PATH: process.env.PATH ?? '', POD_NAMESPACE: 'sidecar-destruct-system' },
        stdio: 'ignore',
      },
    );
    servers.push(child);
    await ready(port, body, child);
    return port;
  };
  try {
    const webhookPort = await start([
      join(ROOT, 'cli/dist/main.js'),
      'webhook',
      '--host=127.0.0.1',
      '--port=PORT',
      `--tls-cert-file=${certFile}`,
      `--tls-key-file=${keyFile}`,
      '--sidecar-mode=native',
      '--log-level=warn',
      '--kubeconfig=/dev/null/none',
    ]);
    const echoPort = await start([join(ROOT, 'bench/echo-server.ts'), certFile, keyFile, 'PORT']);
    const response = JSON.parse((await post(webhookPort, body)).text);
    if (!response.response?.patch) throw new Error('the webhook did not inject the benchmark review');

    const { durationS, connections, fixedRate } = options;
    const echo = await autocannon(echoPort, bodyFile, durationS, connections);
    const webhook = await autocannon(webhookPort, bodyFile, durationS, connections);
    const echoFixed = await autocannon(echoPort, bodyFile, durationS, FIXED_RATE_CONNECTIONS, fixedRate);
    const fixed = await autocannon(webhookPort, bodyFile, durationS, FIXED_RATE_CONNECTIONS, fixedRate);
    const ratio = webhook.rps / echo.rps;
    return {
      title: `Admission: /mutate over TLS vs a bare Fastify echo, one core each (${Buffer.byteLength(body)}-byte review, ${options.connections} connections, ${options.durationS} s)`,
      columns: ['server', 'requests/s', 'ratio to echo', 'p50 ms', 'p99 ms', 'failed', 'target'],
      rows: [
        ['Fastify echo (baseline)', echo.rps.toFixed(0), '1.00', echo.p50, echo.p99, echo.failures, ''],
        [
          'sidecar-destruct webhook',
          webhook.rps.toFixed(0),
          ratio.toFixed(2),
          webhook.p50,
          webhook.p99,
          webhook.failures,
          '>= 0.5x echo',
        ],
        [
          `echo at a fixed ${fixedRate} requests/s (${FIXED_RATE_CONNECTIONS} connections)`,
          echoFixed.rps.toFixed(0),
          '',
          echoFixed.p50,
          echoFixed.p99,
          echoFixed.failures,
          '',
        ],
        [
          `webhook at a fixed ${fixedRate} requests/s (${FIXED_RATE_CONNECTIONS} connections)`,
          fixed.rps.toFixed(0),
          '',
          fixed.p50,
          fixed.p99,
          fixed.failures,
          'p99 < 5 ms',
        ],
      ],
      notes: ['autocannon reports latency in whole milliseconds.'],
    };
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}
