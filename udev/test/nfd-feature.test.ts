import { spawn } from 'node:child_process';
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const HELPER = fileURLToPath(new URL('../nfd-feature', import.meta.url));
const MARKER = '.sidecar-destruct-resync';

interface Seen {
  readonly at: number;
  readonly name: string;
}

/**
 * Runs the helper as udev runs a rule's program: by its path, with the device's properties as the whole
 * environment (no PATH) and `/` as the working directory; NFD_FEATURES_DIR points it at a test folder. Returns the
 * exit status and every inotify event the folder saw meanwhile (what NFD's worker reacts to).
 */
async function runAsUdev(dir: string, action: string, name: string) {
  const seen: Seen[] = [];
  const start = performance.now();
  const watcher = watch(dir, (_type, file) =>
    seen.push({ at: performance.now() - start, name: String(file) }),
  );
  const child = spawn(HELPER, [action, name], {
    cwd: '/',
    env: {
      ACTION: action,
      SUBSYSTEM: 'tty',
      DEVNAME: '/dev/ttyUSB0',
      DEVPATH: '/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/ttyUSB0/tty/ttyUSB0',
      ID_VENDOR_ID: '10c4',
      ID_MODEL_ID: 'ea60',
      SEQNUM: '4242',
      NFD_FEATURES_DIR: dir,
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  // inotify events are read asynchronously: wait for the last one the helper writes (the marker), if it ran.
  for (let i = 0; status === 0 && i < 200 && !seen.some((e) => e.name === MARKER); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  watcher.close();
  return { status, stderr, seen };
}

describe('udev/nfd-feature, run as udev runs it', () => {
  it('writes NAME=true with the final name as the only event that names a feature file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfd-'));
    const added = await runAsUdev(dir, 'add', 'zigbee');
    expect(added.status).toBe(0);
    expect(readFileSync(join(dir, 'sidecar-destruct-zigbee'), 'utf8')).toBe('zigbee=true\n');
    // NFD reads every non-hidden file: a temporary file inside features.d would start a discovery of its own.
    const visible = added.seen.filter((e) => !e.name.startsWith('.'));
    expect(visible.map((e) => e.name)).toEqual(['sidecar-destruct-zigbee']);
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual(['sidecar-destruct-zigbee']);
  });

  it('signals features.d again past NFD 1-second rate-limit window, with a file NFD ignores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfd-'));
    for (const action of ['add', 'remove']) {
      const { status, seen } = await runAsUdev(dir, action, 'zigbee');
      expect(status).toBe(0);
      const change = seen.find((e) => e.name === 'sidecar-destruct-zigbee');
      const resync = seen.filter((e) => e.name === MARKER);
      expect(change).toBeDefined();
      expect(resync.length).toBeGreaterThan(0);
      expect(Math.min(...resync.map((e) => e.at)) - (change?.at ?? 0)).toBeGreaterThan(1000);
    }
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('removes nothing, creates nothing and fails nothing when features.d does not exist', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'nfd-'));
    const child = spawn(HELPER, ['remove', 'zigbee'], {
      cwd: '/',
      env: { NFD_FEATURES_DIR: join(parent, 'features.d') },
    });
    expect(await new Promise((resolve) => child.once('close', resolve))).toBe(0);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses a name that could leave features.d, or that no label can carry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfd-'));
    for (const name of ['../etc', 'a'.repeat(64)]) {
      const bad = await runAsUdev(dir, 'add', name);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/invalid feature name|longer than 63/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces a symlink planted at the marker or the feature file, never writing through it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfd-'));
    const victim = join(mkdtempSync(join(tmpdir(), 'victim-')), 'passwd');
    writeFileSync(victim, 'root:x:0:0\n');
    symlinkSync(victim, join(dir, MARKER));
    symlinkSync(victim, join(dir, 'sidecar-destruct-zigbee'));
    expect((await runAsUdev(dir, 'add', 'zigbee')).status).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('root:x:0:0\n');
    expect(lstatSync(join(dir, MARKER)).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(dir, 'sidecar-destruct-zigbee'), 'utf8')).toBe('zigbee=true\n');
  });

  it('refuses a staging folder that is a symlink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfd-'));
    symlinkSync(mkdtempSync(join(tmpdir(), 'elsewhere-')), join(dir, '.sidecar-destruct'));
    const refused = await runAsUdev(dir, 'add', 'zigbee');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('is a symlink');
  });
});
