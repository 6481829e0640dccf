/**
 * API cost at scale: N sidecars (real processes) watching one node, idle, then one label removal that concerns
 * all of them. Idle cost comes from the API server's own apiserver_request_total (everything but WATCH, on the
 * resources the sidecars use); the baseline loop runs N times for the same window.
 */
import type { ChildProcess } from 'node:child_process';
import type { ControlPlane, RunningSidecar } from '@sidecar-destruct/test';
import { createPod, ensureNode, memoryMb, rest, setLabel, sleep, type Table, waitGone } from './lib.ts';
import { startBaselineLoop } from './reaction.ts';

/** Requests the API server counted on nodes, pods and events, by verb. */
async function requestCounts(cp: ControlPlane): Promise<Map<string, number>> {
  const reply = await cp.rest('GET', '/metrics');
  const counts = new Map<string, number>();
  for (const line of String(reply.body).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1];
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    if (!resource || !['nodes', 'pods', 'events'].includes(resource)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    counts.set(verb, (counts.get(verb) ?? 0) + value);
  }
  return counts;
}

function perMinute(
  before: Map<string, number>,
  after: Map<string, number>,
  windowMs: number,
  exclude: string[] = [],
) {
  let total = 0;
  for (const [verb, value] of after) if (!exclude.includes(verb)) total += value - (before.get(verb) ?? 0);
  return (total * 60_000) / windowMs;
}

export async function scaleBench(cp: ControlPlane, sizes: readonly number[], idleMs: number): Promise<Table> {
  const rows: Array<Array<string | number>> = [];
  for (const n of sizes) {
    const node = `scale-${n}`;
    await ensureNode(cp, node);
    const sidecars: RunningSidecar[] = [];
    const uids = new Set<string>();
    const { startSidecar } = await import('@sidecar-destruct/test');
    for (let i = 0; i < n; i++) {
      const name = `scale-${n}-${i}`;
      uids.add(await createPod(cp, name, node));
      sidecars.push(await startSidecar(cp, 'bench', name));
    }
    await Promise.all(sidecars.map((s) => s.waitForLog((l) => l.msg === 'watching the node', 60_000)));
    const before = await requestCounts(cp);
    await sleep(idleMs);
    const after = await requestCounts(cp);
    const idle = perMinute(before, after, idleMs, ['WATCH']);
    const apiserverMb = (await memoryMb(cp.pids()['kube-apiserver'] ?? 0)).rss;

    const removed = performance.now();
    await setLabel(cp, node, null);
    const gone = await waitGone(cp, uids, 30_000);
    const allGoneMs = Math.max(...gone.values()) - removed;
    await Promise.all(sidecars.map((s) => s.stop()));

    // The baseline at the same N, for the same window.
    const loopNode = `scale-loop-${n}`;
    await ensureNode(cp, loopNode);
    const loops: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      const name = `scale-loop-${n}-${i}`;
      await createPod(cp, name, loopNode, false);
      loops.push(await startBaselineLoop(cp, loopNode, name));
    }
    const loopBefore = await requestCounts(cp);
    await sleep(idleMs);
    const loopAfter = await requestCounts(cp);
    for (const l of loops) l.kill();
    const loopIdle = perMinute(loopBefore, loopAfter, idleMs);
    rows.push([n, idle.toFixed(1), loopIdle.toFixed(0), allGoneMs.toFixed(0), apiserverMb.toFixed(0)]);
    await rest(cp, 'DELETE', '/api/v1/namespaces/bench/pods?labelSelector=', undefined).catch(
      () => undefined,
    );
  }
  return {
    title: `API cost at scale (idle window ${(idleMs / 1_000).toFixed(0)} s)`,
    columns: [
      'N sidecars',
      'idle requests/min beyond watches (sidecars)',
      'requests/min (baseline loops)',
      'label removed -> all N pods deleting, ms',
      'kube-apiserver RSS MB',
    ],
    rows,
    notes: [
      'Targets: zero requests per minute while idle beyond the watches; every pod deleting within 2 s at N = 100.',
      'Each idle sidecar holds one watch (re-opened every 5 to 10 minutes); after the label goes each makes three requests (the confirming read, the Event, the delete).',
    ],
  };
}
