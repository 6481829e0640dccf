/** `sidecar-destruct udev`: prints the rules for one device. */
import { parseArgs } from 'node:util';
import { deviceRules, NFD_HELPER, nodeFeatureRule } from './rules.js';

export const UDEV_HELP = `Usage: sidecar-destruct udev --vendor VVVV --product PPPP [--serial S] [--name NAME]
                             [--owner UID --group GID] [--mode 0660] [--nfd | --node-feature-rule]

Prints udev rules that give a USB serial device a stable name, /dev/NAME (a hard link to its tty), with the
owner, group and mode its pod's user needs, and remove it when the device is unplugged. Install with:
  sidecar-destruct udev --vendor 10c4 --product ea60 --name zigbee --nfd | sudo tee /etc/udev/rules.d/99-zigbee.rules
  sudo install -D udev/nfd-feature ${NFD_HELPER}
  sudo udevadm control --reload && sudo udevadm trigger

  --nfd                also label the node feature.node.kubernetes.io/NAME=true while the device is plugged in,
                       through a node-feature-discovery local feature file (features.d; measured with NFD
                       v0.19.0 and v0.20.1: labelled within 1-3 s of the udev event)
  --node-feature-rule  print a NodeFeatureRule for the device instead (no udev rule; NFD labels at its next scan)
`;

/** What a command may do to the outside world, passed in so tests drive commands without a process. */
export interface CommandIo {
  stdout(text: string): void;
  /** Prints a one-line error and returns exit status 2. */
  fail(message: string): number;
}

export function udevCommand(args: readonly string[], io: CommandIo): number {
  const { values } = parseArgs({
    args: [...args],
    options: {
      vendor: { type: 'string' },
      product: { type: 'string' },
      serial: { type: 'string' },
      name: { type: 'string' },
      owner: { type: 'string' },
      group: { type: 'string' },
      mode: { type: 'string' },
      nfd: { type: 'boolean', default: false },
      'node-feature-rule': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout(UDEV_HELP);
    return 0;
  }
  if (values.vendor === undefined || values.product === undefined)
    return io.fail('udev needs --vendor and --product');
  const make = values['node-feature-rule'] ? nodeFeatureRule : deviceRules;
  const rules = make({
    vendor: values.vendor,
    product: values.product,
    ...(values.serial ? { serial: values.serial } : {}),
    ...(values.name ? { name: values.name } : {}),
    ...(values.owner ? { owner: values.owner } : {}),
    ...(values.group ? { group: values.group } : {}),
    ...(values.mode ? { mode: values.mode } : {}),
    ...(values.nfd ? { nfd: true } : {}),
  });
  if (!rules.ok) return io.fail(rules.error.join('; '));
  io.stdout(rules.value);
  return 0;
}
