/** `sidecar-destruct udev`: prints the rules for one device (udev/src/rules.ts). */
import { readCommandLine, settingsHelp } from '@sidecar-destruct/core';
import { deviceRules, NFD_HELPER, nodeFeatureRule } from '@sidecar-destruct/udev';
import { type Io, UsageError } from './io.js';

export const UDEV_SETTINGS = {
  vendor: { flag: 'vendor', default: '', help: "the device's USB vendor id, 4 hex digits (required)" },
  product: { flag: 'product', default: '', help: "the device's USB product id, 4 hex digits (required)" },
  serial: { flag: 'serial', default: '', help: 'its serial number, to tell two identical devices apart' },
  name: { flag: 'name', default: '', help: 'the stable name, /dev/NAME' },
  owner: { flag: 'owner', default: '', help: "the device file's owner (the pod's user)" },
  group: { flag: 'group', default: '', help: "the device file's group" },
  mode: { flag: 'mode', default: '', help: "the device file's mode, e.g. 0660" },
  nfd: {
    flag: 'nfd',
    default: '',
    boolean: true,
    help: 'also label the node feature.node.kubernetes.io/NAME=true while the device is plugged in, through a node-feature-discovery local feature file (features.d; measured with NFD v0.19.0 and v0.20.1: labelled within 1-3 s of the udev event)',
  },
  nodeFeatureRule: {
    flag: 'node-feature-rule',
    default: '',
    boolean: true,
    help: 'print a NodeFeatureRule for the device instead (no udev rule; NFD labels at its next scan)',
  },
} as const;

export const UDEV_HELP = settingsHelp(
  'sidecar-destruct udev --vendor VVVV --product PPPP [flags]',
  `Prints udev rules that give a USB serial device a stable name, /dev/NAME (a hard link to its tty), with the
owner, group and mode its pod's user needs, and remove it when the device is unplugged. Install with:
  sidecar-destruct udev --vendor 10c4 --product ea60 --name zigbee --nfd | sudo tee /etc/udev/rules.d/99-zigbee.rules
  sudo install -D udev/nfd-feature ${NFD_HELPER}
  sudo udevadm control --reload && sudo udevadm trigger`,
  UDEV_SETTINGS,
);

export function udevCommand(args: readonly string[], io: Io): Promise<number> {
  const line = readCommandLine(UDEV_SETTINGS, args, io.env);
  if (!line.ok) throw new UsageError(line.error.join('; '));
  if (line.value.help) {
    io.stdout(UDEV_HELP);
    return Promise.resolve(0);
  }
  const { read } = line.value;
  const vendor = read.required('vendor');
  const product = read.required('product');
  if (read.errors.length > 0) throw new UsageError(read.errors.join('; '));
  const optional = (['serial', 'name', 'owner', 'group', 'mode'] as const).flatMap((k) => {
    const value = read.optional(k);
    return value ? [[k, value]] : [];
  });
  const make = read.on('nodeFeatureRule') ? nodeFeatureRule : deviceRules;
  const rules = make({
    vendor,
    product,
    ...Object.fromEntries(optional),
    ...(read.on('nfd') ? { nfd: true } : {}),
  });
  if (!rules.ok) return Promise.resolve(io.fail(rules.error.join('; ')));
  io.stdout(rules.value);
  return Promise.resolve(0);
}
