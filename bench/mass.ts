/**
 * Mass action: N pods on one node, one label removed under all of them; the sidecar (grace 0 s: the burst itself,
 * not the grace period) against the descheduler at 5 s. Before the removal, an idle window counts the API
 * requests each approach makes beyond its watches (the API server's own apiserver_request_total).
 */

import { DEFAULT_SETTINGS } from '@sidecar-destruct/core';
import {
  type ControlPlane,
  type RunningSidecar,
  setNodeLabels,
  startSidecar,
  USB_LABEL,
} from '@sidecar-destruct/testkit';
import { startDescheduler } from './descheduler.ts';
import { createPod, type Deletions, deletePods, ensureNode, NS, rest, scenarioPod, sleep } from './lib.ts';
import type { MassRaw, MassRun } from './tables.ts';

/** Requests the API server counted on nodes, pods and events, every verb but WATCH. */
async function requestCount(cp: ControlPlane): Promise<number> {
  const reply = await cp.rest('GET', '/metrics');
  if (reply.status !== 200) throw new Error(`GET /metrics: HTTP ${reply.status}`);
  let total = 0;
  let lines = 0;
  for (const line of String(reply.body).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    lines++;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    if (!['nodes', 'pods', 'events'].includes(resource) || verb === 'WATCH') continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  if (lines === 0)
    throw new Error('GET /metrics has no apiserver_request_total: the idle count would read 0');
  return total;
}

/**
 * Requests per minute beyond the watches over an idle window. The benchmark makes one request of its own in it (a
 * GET of the node, as a check that the counter counts): that one is taken off again.
 */
async function idleRate(
  cp: ControlPlane,
  windowMs: number,
): Promise<{ perMinute: number; counts: readonly [number, number] }> {
  const before = await requestCount(cp);
  await sleep(windowMs / 2);
  await rest(cp, 'GET', '/api/v1/nodes?limit=1');
  await sleep(windowMs / 2);
  const after = await requestCount(cp);
  if (after - before < 1) throw new Error('the request counter did not count the control request');
  return { perMinute: (after - before - 1) * (60_000 / windowMs), counts: [before, after] };
}

const MASS_INTERVAL_S = 5;

async function massRun(
  cp: ControlPlane,
  deletions: Deletions,
  node: string,
  uids: readonly string[],
  idleWindowMs: number,
  waitMs: number,
  phaseMs = 0,
): Promise<Pick<MassRun, 'reactedMs' | 'idleRequestsPerMinute' | 'idleRequests'>> {
  const idle = await idleRate(cp, idleWindowMs);
  await sleep(Math.random() * phaseMs);
  for (const uid of uids) deletions.expectLive(uid, node);
  const removed = performance.now();
  await setNodeLabels(cp, node, { [USB_LABEL]: null });
  const seen = await Promise.all(uids.map((uid) => deletions.wait(uid, waitMs)));
  return {
    idleRequestsPerMinute: idle.perMinute,
    idleRequests: idle.counts,
    reactedMs: seen.map((t) => (t === undefined ? null : t - removed)),
  };
}

/** N sidecars on one node, each watching it, then the label goes from under all of them at once. */
async function sidecarMassRun(
  cp: ControlPlane,
  deletions: Deletions,
  executable: string,
  n: number,
  idleWindowMs: number,
): Promise<MassRun> {
  const node = `mass-sidecar-${n}`;
  await ensureNode(cp, node);
  const settings = { ...DEFAULT_SETTINGS, gracePeriodMs: 0 };
  const sidecars: RunningSidecar[] = [];
  const uids: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const name = `${node}-${i}`;
      uids.push(await createPod(cp, scenarioPod(name, node, 'affinity', settings)));
      sidecars.push(await startSidecar(cp, NS, name, { executable }));
    }
    await Promise.all(sidecars.map((s) => s.waitForLog((l) => l.msg === 'watching the node', 120_000)));
    const result = await massRun(cp, deletions, node, uids, idleWindowMs, 30_000);
    return { approach: 'sidecar', words: 'sidecar-destruct, `grace-period: 0s`', n, ...result };
  } finally {
    await Promise.all(sidecars.map((s) => s.stop()));
  }
}

/** N bare pods on one node (and a spare node that fits them) under one descheduler at a 5 s interval. */
async function deschedulerMassRun(
  cp: ControlPlane,
  deletions: Deletions,
  toolsDir: string,
  n: number,
  idleWindowMs: number,
): Promise<MassRun> {
  const node = `mass-descheduler-${n}`;
  await ensureNode(cp, node);
  await ensureNode(cp, `${node}-spare`);
  const uids: string[] = [];
  for (let i = 0; i < n; i++) uids.push(await createPod(cp, scenarioPod(`${node}-${i}`, node, 'affinity')));
  const descheduler = await startDescheduler(cp, toolsDir, MASS_INTERVAL_S);
  try {
    // The idle window is a whole number of its intervals: without a random wait the label would always go just
    // before one of its runs.
    const result = await massRun(cp, deletions, node, uids, idleWindowMs, 60_000, MASS_INTERVAL_S * 1_000);
    descheduler.assertAlive();
    return { approach: 'descheduler-5s', words: `descheduler, every ${MASS_INTERVAL_S} s`, n, ...result };
  } finally {
    await descheduler.stop();
  }
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
  for (const n of sizes.ns) {
    runs.push(await sidecarMassRun(cp, deletions, executable, n, sizes.idleWindowMs));
    log(`mass: sidecar N = ${n}`);
  }
  for (const n of sizes.ns) {
    runs.push(await deschedulerMassRun(cp, deletions, toolsDir, n, sizes.idleWindowMs));
    log(`mass: descheduler N = ${n}`);
  }
  await deletePods(cp, 'mass');
  return { idleWindowMs: sizes.idleWindowMs, runs };
}
