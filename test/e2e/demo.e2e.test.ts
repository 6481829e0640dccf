import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../demo/dist/main.js', import.meta.url));

describe('the demo', () => {
  it('tells the whole story non-interactively and exits 0', async () => {
    const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    for (const milestone of [
      /Control plane v1\.37\.2 ready/,
      /Pod zigbee2mqtt-\S+ scheduled on pi-kitchen/,
      /\+ initContainers: sidecar-destruct \(native sidecar\)/,
      /is watching node pi-kitchen/,
      /Unplugging the stick/,
      /Warning NodeConstraintLost/,
      /Replacement zigbee2mqtt-\S+ scheduled on pi-garage, with its own sidecar/,
      /Reaction: label removed -> pod deleting in \d+ ms/,
      /Cleaning up/,
    ]) {
      expect(out).toMatch(milestone);
    }
  });
});
