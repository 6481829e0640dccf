/**
 * What systemd-udevd does with the rules `sidecar-destruct udev` writes, for one event of a USB serial adapter's
 * tty: picks the rule lines whose ACTION, SUBSYSTEM, ATTRS{…} and ENV{…} keys match, and executes their RUN+=
 * programs in order, as udevd spawns them: by path, with the split arguments ($devnode substituted), the event's
 * properties as the whole environment (no PATH), `/` as the working directory, each waited for.
 */
import { spawn } from 'node:child_process';

export interface UsbSerialDevice {
  readonly vendor: string;
  readonly product: string;
  readonly serial?: string;
  /** /dev/ttyUSB0 */
  readonly devname: string;
  /** The tty's sysfs path under /devices. */
  readonly devpath: string;
}

let seqnum = 1000;

/** The properties udevd gives a tty event of a cp210x-like adapter (after 60-serial.rules' usb_id). */
export function udevProperties(action: 'add' | 'remove', device: UsbSerialDevice): Record<string, string> {
  seqnum += 1;
  return {
    ACTION: action,
    DEVPATH: device.devpath,
    SUBSYSTEM: 'tty',
    DEVNAME: device.devname,
    MAJOR: '188',
    MINOR: '0',
    SEQNUM: String(seqnum),
    ID_BUS: 'usb',
    ID_VENDOR_ID: device.vendor,
    ID_MODEL_ID: device.product,
    ID_USB_DRIVER: 'cp210x',
    ...(device.serial ? { ID_SERIAL_SHORT: device.serial } : {}),
  };
}

function keyMatches(
  key: string,
  wanted: string,
  props: Record<string, string>,
  device: UsbSerialDevice,
): boolean {
  const attrs: Record<string, string | undefined> = {
    idVendor: device.vendor,
    idProduct: device.product,
    serial: device.serial,
  };
  const env = /^ENV\{(.+)\}$/.exec(key)?.[1];
  const attr = /^ATTRS\{(.+)\}$/.exec(key)?.[1];
  if (env) return props[env] === wanted;
  if (attr) return attrs[attr] === wanted;
  return props[key] === wanted;
}

/**
 * The RUN+= command lines of every rule line that matches the event, in order; `programs` keeps those to run
 * (the suites run the NFD helper and leave /dev alone).
 */
export function matchingRuns(
  rules: string,
  props: Record<string, string>,
  device: UsbSerialDevice,
): string[][] {
  const runs: string[][] = [];
  for (const line of rules.split('\n')) {
    if (!line.startsWith('ACTION')) continue;
    const matches = [...line.matchAll(/([A-Z]+(?:\{[^}]+\})?)=="([^"]*)"/g)];
    if (!matches.every(([, key, wanted]) => keyMatches(key ?? '', wanted ?? '', props, device))) continue;
    for (const [, command] of line.matchAll(/RUN\+="([^"]*)"/g)) {
      runs.push((command ?? '').split(/\s+/).map((word) => word.replace('$devnode', props.DEVNAME ?? '')));
    }
  }
  return runs;
}

/** Spawns one RUN program as udevd does and resolves with its exit status and stderr. */
export function spawnAsUdev(
  argv: readonly string[],
  props: Record<string, string>,
): Promise<{ status: number | null; stderr: string }> {
  const [program, ...args] = argv;
  if (!program) throw new Error('an empty RUN command');
  const child = spawn(program, args, { cwd: '/', env: props, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stderr }));
  });
}

/** Per device: the end of its last event. udevd handles one device's events one after another, in order. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs the matching rules' programs that `keep` selects, one after the other; fails on a non-zero exit. Like
 * udevd, an event waits for the same device's previous one to finish.
 */
export function udevEvent(
  rules: string,
  action: 'add' | 'remove',
  device: UsbSerialDevice,
  keep: (program: string) => boolean,
): Promise<number> {
  const previous = queues.get(device.devpath) ?? Promise.resolve();
  const event = previous.catch(() => undefined).then(() => runEvent(rules, action, device, keep));
  queues.set(device.devpath, event);
  return event;
}

async function runEvent(
  rules: string,
  action: 'add' | 'remove',
  device: UsbSerialDevice,
  keep: (program: string) => boolean,
): Promise<number> {
  const props = udevProperties(action, device);
  const runs = matchingRuns(rules, props, device).filter(([program]) => keep(program ?? ''));
  if (runs.length === 0)
    throw new Error(`no rule runs a program on ${action} of ${device.vendor}:${device.product}`);
  for (const argv of runs) {
    const { status, stderr } = await spawnAsUdev(argv, props);
    if (status !== 0) throw new Error(`${argv.join(' ')} exited ${status}: ${stderr}`);
  }
  return runs.length;
}
