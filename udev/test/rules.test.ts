import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deviceRules, NFD_HELPER, nodeFeatureRule } from '../src/rules.js';

describe('udev rules for a USB serial device', () => {
  it('links the tty to /dev/NAME on add, with owner, group and mode, and removes it on remove', () => {
    const rules = deviceRules({
      vendor: '10C4',
      product: 'EA60',
      name: 'zigbee',
      owner: '1000',
      group: 'dialout',
    });
    expect(rules).toEqual({
      ok: true,
      value: [
        '# zigbee: USB 10c4:ea60 (sidecar-destruct udev)',
        'ACTION=="add", SUBSYSTEM=="tty", ATTRS{idVendor}=="10c4", ATTRS{idProduct}=="ea60", OWNER="1000", GROUP="dialout", MODE="0660", RUN+="/bin/ln -f $devnode /dev/zigbee"',
        'ACTION=="remove", SUBSYSTEM=="tty", ENV{ID_VENDOR_ID}=="10c4", ENV{ID_MODEL_ID}=="ea60", RUN+="/bin/rm -f /dev/zigbee"',
        '',
      ].join('\n'),
    });
  });

  it('tells two identical sticks apart by serial, on add and on remove', () => {
    const rules = deviceRules({ vendor: '1a86', product: '7523', serial: 'A50285BI' });
    expect(rules.ok && rules.value).toContain('ATTRS{serial}=="A50285BI"');
    expect(rules.ok && rules.value).toContain('ENV{ID_SERIAL_SHORT}=="A50285BI"');
    expect(rules.ok && rules.value).toContain('/dev/usb-1a86-7523-a50285bi');
  });

  it.each([
    [{ vendor: '10c', product: 'ea60' }, '--vendor "10c"'],
    [{ vendor: '10c4', product: 'xyz1' }, '--product "xyz1"'],
    [{ vendor: '10c4', product: 'ea60', serial: 'a"b' }, '--serial'],
    [{ vendor: '10c4', product: 'ea60', name: '../etc/passwd' }, '--name'],
    [{ vendor: '10c4', product: 'ea60', owner: 'root; rm' }, '--owner'],
    [{ vendor: '10c4', product: 'ea60', mode: '999' }, '--mode'],
  ])('refuses %j, naming the flag', (input, flag) => {
    const rules = deviceRules(input);
    expect(rules.ok).toBe(false);
    if (!rules.ok) expect(rules.error.join()).toContain(flag);
  });

  it('wrote the sample rules file', () => {
    const sample = readFileSync(
      fileURLToPath(new URL('../99-sidecar-destruct-usb.rules', import.meta.url)),
      'utf8',
    );
    const devices = [
      { vendor: '10c4', product: 'ea60', name: 'zigbee' },
      { vendor: '0658', product: '0200', name: 'zwave' },
      { vendor: '1a86', product: '7523', serial: 'A50285BI', name: 'ch340-a' },
      { vendor: '1a86', product: '7523', serial: 'A6008isP', name: 'ch340-b' },
    ];
    for (const device of devices) {
      const rules = deviceRules({ ...device, owner: '1000', group: '20' });
      expect(rules.ok && sample.includes(rules.value.trim())).toBe(true);
    }
  });
});

describe('node-feature-discovery', () => {
  it('adds a features.d file on add and removes it on remove, through the installed helper', () => {
    const rules = deviceRules({ vendor: '10c4', product: 'ea60', name: 'zigbee', nfd: true });
    expect(rules.ok && rules.value).toContain(`RUN+="${NFD_HELPER} add zigbee"`);
    expect(rules.ok && rules.value).toContain(`RUN+="${NFD_HELPER} remove zigbee"`);
    expect(rules.ok && rules.value.split('\n').filter((l) => l.startsWith('ACTION'))).toHaveLength(2);
  });

  it('refuses a name that is not a valid label name', () => {
    const long = 'a'.repeat(70);
    const rules = deviceRules({ vendor: '10c4', product: 'ea60', name: long, nfd: true });
    expect(rules.ok).toBe(false);
  });

  it('prints a NodeFeatureRule matching the USB vendor, product and serial', () => {
    const rule = nodeFeatureRule({ vendor: '1A86', product: '7523', serial: 'A50285BI', name: 'ch340-a' });
    const doc = rule.ok ? parse(rule.value) : undefined;
    expect(doc).toMatchObject({
      apiVersion: 'nfd.k8s-sigs.io/v1alpha1',
      kind: 'NodeFeatureRule',
      spec: {
        rules: [
          {
            labels: { 'ch340-a': 'true' },
            matchFeatures: [
              {
                feature: 'usb.device',
                matchExpressions: {
                  vendor: { op: 'In', value: ['1a86'] },
                  device: { op: 'In', value: ['7523'] },
                  serial: { op: 'In', value: ['A50285BI'] },
                },
              },
            ],
          },
        ],
      },
    });
  });
});
