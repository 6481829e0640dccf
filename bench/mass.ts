/**
 * Mass action: N pods on one node, one label removed under all of them; the sidecar (grace 0 s: the burst itself,
 * not the grace period) against the descheduler at 5 s. Before the removal, an idle window counts the API
 * requests each approach makes beyond its watches (the API server's own apiserver_request_total).
 */

import { type ControlPlane, type RunningSidecar, startSidecar } from '@sidecar-destruct/cluster';
import { DEFAULT_SETTINGS } from '@sidecar-destruct/sidecar/core';
import { startDescheduler } from './descheduler.ts';
import { createPod, type Deletions, ensureNode, NS, rest, scenarioPod, setLabel, sleep } from './lib.ts';
import type { MassRaw, MassRun } from './tables.ts';

/** Requests the API server counted on nodes, pods and events, every verb but WATCH. */
async function requestCount(cp: ControlPlane): Promise<number> {
  const reply = await cp.rest('GET', '/metrics');
  let total = 0;
  for (const line of String(reply.body).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    if (!['nodes', 'pods', 'events'].includes(resource) || verb === 'WATCH') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The benchmark's own requests in the window (its watch and the metrics reads) are not counted: it makes none. */
async function idleRate(cp: ControlPlane, windowMs: number): Promise<number> {
  const before = await requestCount(cp);
  await sleep(windowMs);
  return ((await requestCount(cp)) - before) * (60_000 / windowMs);
}

async function massRun(
  cp: ControlPlane,
  deletions: Deletions,
  node: string,
  uids: readonly string[],
  idleWindowMs: number,
  waitMs: number,
): Promise<Pick<MassRun, 'reactedMs' | 'idleRequestsPerMinute'>> {
  const idleRequestsPerMinute = await idleRate(cp, idleWindowMs);
  for (const uid of uids) deletions.expectLive(uid, node);
  const removed = performance.now();
  await setLabel(cp, node, null);
  const seen = await Promise.all(uids.map((uid) => deletions.wait(uid, waitMs)));
  return { idleRequestsPerMinute, reactedMs: seen.map((t) => (t === undefined ? null : t - removed)) };
}

export async function massBench(
  cp: ControlPlane,
  deletions: Deletions,
  toolsDir: string,
  executable: string,
  sizes: { readonly ns: readonly number[]; readonly idleWindowMs: number },
  log: (line: string) => void,
): Promise<MassRaw> {
  const runs: MassRun[] = [];
  const settings = { ...DEFAULT_SETTINGS, gracePeriodMs: 0 };
  for (const n of sizes.ns) {
    const node = `mass-sidecar-${n}`;
    await ensureNode(cp, node);
    const sidecars: RunningSidecar[] = [];
    const uids: string[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const name = `${node}-${i}`;
        uids.push(await createPod(cp, scenarioPod(name, node, 'affinity', settings)));
        sidecars.push(await startSidecar(cp, NS, name, { executable }));
      }
      await Promise.all(sidecars.map((s) => s.waitForLog((l) => l.msg === 'watching the node', 120_000)));
      const result = await massRun(cp, deletions, node, uids, sizes.idleWindowMs, 30_000);
      runs.push({ approach: 'sidecar', words: 'sidecar-destruct, `grace-period: 0s`', n, ...result });
    } finally {
      await Promise.all(sidecars.map((s) => s.stop()));
    }
    log(`mass: sidecar N = ${n}`);
  }
  for (const n of sizes.ns) {
    const node = `mass-descheduler-${n}`;
    await ensureNode(cp, node);
    await ensureNode(cp, `${node}-spare`);
    const uids: string[] = [];
    for (let i = 0; i < n; i++) uids.push(await createPod(cp, scenarioPod(`${node}-${i}`, node, 'affinity')));
    const descheduler = await startDescheduler(cp, toolsDir, 5);
    try {
      const result = await massRun(cp, deletions, node, uids, sizes.idleWindowMs, 60_000);
      runs.push({ approach: 'descheduler-5s', words: 'descheduler, every 5 s', n, ...result });
    } finally {
      descheduler.kill('SIGTERM');
    }
    log(`mass: descheduler N = ${n}`);
  }
  const pods = await rest(cp, 'GET', `/api/v1/namespaces/${NS}/pods`);
  for (const p of pods.items) {
    if (String(p.metadata.name).startsWith('mass-')) {
      await cp.rest('DELETE', `/api/v1/namespaces/${NS}/pods/${p.metadata.name}?gracePeriodSeconds=0`);
    }
  }
  return { idleWindowMs: sizes.idleWindowMs, runs };
}
