/**
 * The sidecar's footprint against a real kube-apiserver: steady-state memory next to a bare idle Node process and
 * next to a Node process that only holds one HTTPS watch (the floor for any Node sidecar), and start-to-watch.
 */
import { spawn } from 'node:child_process';
import { SIDECAR_NODE_FLAGS } from '@sidecar-destruct/sidecar/main';
import type { ControlPlane } from '@sidecar-destruct/test';
import { type Memory, median, memoryMb, sleep, startedSidecar, type Table } from './lib.ts';

const TLS_WATCH_FLOOR = `
const { request, Agent } = require('node:https');
const agent = new Agent({ keepAlive: true, ca: require('node:fs').readFileSync(process.env.CA) });
request(new URL('/api/v1/nodes?watch=true', process.env.SERVER), { agent, headers: { authorization: 'Bearer ' + process.env.TOKEN } },
  (res) => res.resume()).end();
setInterval(() => {}, 1 << 30);`;

async function idleProcess(args: string[], settleMs: number, env: NodeJS.ProcessEnv = {}): Promise<Memory> {
  const child = spawn(process.execPath, args, {
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  await sleep(settleMs);
  const memory = await memoryMb(child.pid ?? 0);
  child.kill();
  return memory;
}

export async function footprintBench(cp: ControlPlane, samples: number, settleMs: number): Promise<Table> {
  const bare: Memory[] = [];
  const floor: Memory[] = [];
  const side: Memory[] = [];
  const startup: number[] = [];
  for (let i = 0; i < samples; i++) {
    bare.push(await idleProcess(['-e', 'setInterval(() => {}, 1 << 30)'], settleMs));
    floor.push(
      await idleProcess([...SIDECAR_NODE_FLAGS, '-e', TLS_WATCH_FLOOR], settleMs, {
        SERVER: cp.server,
        CA: cp.caFile,
        TOKEN: cp.adminToken,
      }),
    );
    const { sidecar, startupMs } = await startedSidecar(cp, `footprint-${i}`, `footprint-node-${i}`);
    startup.push(startupMs);
    await sleep(settleMs);
    side.push(await memoryMb(sidecar.child.pid ?? 0));
    await sidecar.stop();
  }
  const m = (xs: Memory[], key: keyof Memory) => median(xs.map((x) => x[key]));
  const ratio = (xs: Memory[], key: keyof Memory) => (m(xs, key) / m(bare, key)).toFixed(2);
  return {
    title: `Sidecar footprint (median of ${samples}, ${settleMs} ms after start)`,
    columns: ['process', 'RSS MB', 'RSS ratio', 'private (RssAnon) MB', 'private ratio', 'target'],
    rows: [
      [
        'bare idle Node (baseline)',
        m(bare, 'rss').toFixed(1),
        '1.00',
        m(bare, 'anon').toFixed(1),
        '1.00',
        '',
      ],
      [
        'Node holding one HTTPS watch, no sidecar code',
        m(floor, 'rss').toFixed(1),
        ratio(floor, 'rss'),
        m(floor, 'anon').toFixed(1),
        ratio(floor, 'anon'),
        '',
      ],
      [
        'sidecar, watching its node',
        m(side, 'rss').toFixed(1),
        ratio(side, 'rss'),
        m(side, 'anon').toFixed(1),
        ratio(side, 'anon'),
        'RSS <= 1.25x',
      ],
      [
        'sidecar start-to-watch, ms (median / max)',
        `${median(startup).toFixed(0)} / ${Math.max(...startup).toFixed(0)}`,
        '',
        '',
        '',
        '<= 300 ms',
      ],
    ],
  };
}
