import { describe, expect, it } from 'vitest';
import { run } from '../src/cli.js';
import { UDEV_HELP, UDEV_SETTINGS } from '../src/udev.js';
import { recordingIo } from './io.js';

describe('sidecar-destruct udev', () => {
  it('prints the rules, or exits 2 with the problems', async () => {
    const { io, out, failures } = recordingIo();
    expect(await run(['udev', '--vendor', '10c4', '--product', 'ea60', '--name', 'zigbee'], io)).toBe(0);
    expect(out()).toContain('/dev/zigbee');
    expect(await run(['udev', '--vendor', 'nope', '--product', 'ea60'], io)).toBe(2);
    expect(failures[0]).toContain('--vendor "nope"');
  });

  it('says which required flag is missing, and points to --help', async () => {
    const { io, failures } = recordingIo();
    expect(await run(['udev', '--vendor', '10c4'], io)).toBe(2);
    expect(failures[0]).toMatch(/--product is required.*sidecar-destruct udev --help/);
  });

  it('lists every flag of its table in its help', () => {
    for (const s of Object.values(UDEV_SETTINGS)) expect(UDEV_HELP).toContain(`--${s.flag}`);
  });
});
