/** `sidecar-destruct udev`: prints the rules for one device. */
import { parseArgs } from 'node:util';
import { deviceRules } from './rules.js';

export const UDEV_HELP = `Usage: sidecar-destruct udev --vendor VVVV --product PPPP [--serial S] [--name NAME]
                             [--owner UID --group GID] [--mode 0660]

Prints udev rules that give a USB serial device a stable name, /dev/NAME (a hard link to its tty), with the
owner, group and mode its pod's user needs, and remove it when the device is unplugged. Install with:
  sidecar-destruct udev --vendor 10c4 --product ea60 --name zigbee | sudo tee /etc/udev/rules.d/99-zigbee.rules
  sudo udevadm control --reload && sudo udevadm trigger
`;

export interface UdevIo {
  stdout(text: string): void;
  fail(message: string): number;
}

export function udevCommand(args: readonly string[], io: UdevIo): number {
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
  const rules = deviceRules({
    vendor: values.vendor,
    product: values.product,
    ...(values.serial ? { serial: values.serial } : {}),
    ...(values.name ? { name: values.name } : {}),
    ...(values.owner ? { owner: values.owner } : {}),
    ...(values.group ? { group: values.group } : {}),
    ...(values.mode ? { mode: values.mode } : {}),
  });
  if (!rules.ok) return io.fail(rules.error.join('; '));
  io.stdout(rules.value);
  return 0;
}
