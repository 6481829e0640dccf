/**
 * udev rules for one USB serial device: on `add`, a hard link /dev/NAME to the device node (a symlink would
 * point at ../ttyUSB0, which means nothing inside a container that mounts only /dev/NAME), with the owner,
 * group and mode the pod's user needs; on `remove`, the link goes away. Matched by vendor and product, and by
 * serial to tell two identical sticks apart. The remove rule reads udev's database (ENV), since the USB
 * parent's attributes are gone by then.
 */
import { err, labelKeyProblem, ok, type Result } from '@sidecar-destruct/core';

/** Where the rules expect the helper that keeps node-feature-discovery's feature files (udev/nfd-feature). */
export const NFD_HELPER = '/usr/local/lib/sidecar-destruct/nfd-feature';
export const NFD_LABEL_PREFIX = 'feature.node.kubernetes.io/';

export interface DeviceRule {
  readonly vendor: string;
  readonly product: string;
  readonly serial?: string;
  /** The name under /dev; default `usb-VVVV-PPPP[-SERIAL]`. */
  readonly name?: string;
  readonly owner?: string;
  readonly group?: string;
  /** Octal, e.g. 0660. */
  readonly mode?: string;
  /**
   * Also keep a node-feature-discovery local feature file while the device is plugged in, so that the node is
   * labelled `feature.node.kubernetes.io/NAME=true` about a second after add, and unlabelled after remove.
   */
  readonly nfd?: boolean;
}

const HEX4 = /^[0-9a-fA-F]{4}$/;
const SERIAL = /^[A-Za-z0-9._-]{1,128}$/;
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ACCOUNT = /^([0-9]{1,10}|[a-z_][a-z0-9_-]{0,31})$/;
const MODE = /^0?[0-7]{3}$/;

/** Checks every field, naming the flag and the accepted form. */
export function validate(
  rule: DeviceRule,
): Result<Required<Pick<DeviceRule, 'vendor' | 'product' | 'name' | 'mode'>> & DeviceRule, string[]> {
  const errors: string[] = [];
  if (!HEX4.test(rule.vendor))
    errors.push(`--vendor "${rule.vendor}": use the 4 hex digits lsusb shows, e.g. 10c4`);
  if (!HEX4.test(rule.product))
    errors.push(`--product "${rule.product}": use the 4 hex digits lsusb shows, e.g. ea60`);
  if (rule.serial !== undefined && !SERIAL.test(rule.serial)) {
    errors.push(`--serial "${rule.serial}": letters, digits, ".", "_" and "-" only (see udevadm info -a)`);
  }
  const vendor = rule.vendor.toLowerCase();
  const product = rule.product.toLowerCase();
  const name = rule.name ?? `usb-${vendor}-${product}${rule.serial ? `-${rule.serial.toLowerCase()}` : ''}`;
  if (!NAME.test(name)) {
    errors.push(`--name "${name}": lower-case letters, digits, ".", "_" and "-", at most 63`);
  } else if (rule.nfd) {
    const problem = labelKeyProblem(`${NFD_LABEL_PREFIX}${name}`);
    if (problem)
      errors.push(`--name "${name}": not a valid label name for ${NFD_LABEL_PREFIX}${name}: ${problem}`);
  }
  for (const [flag, value] of [
    ['--owner', rule.owner],
    ['--group', rule.group],
  ] as const) {
    if (value !== undefined && !ACCOUNT.test(value))
      errors.push(`${flag} "${value}": a numeric id or a user/group name`);
  }
  const mode = rule.mode ?? '0660';
  if (!MODE.test(mode)) errors.push(`--mode "${mode}": an octal mode such as 0660`);
  if (errors.length > 0) return err(errors);
  return ok({ ...rule, vendor, product, name, mode: mode.padStart(4, '0') });
}

/** The rules text for one device (two lines and a comment), or the problems with the input. */
export function deviceRules(rule: DeviceRule): Result<string, string[]> {
  const checked = validate(rule);
  if (!checked.ok) return checked;
  const r = checked.value;
  const match = [`SUBSYSTEM=="tty"`, `ATTRS{idVendor}=="${r.vendor}"`, `ATTRS{idProduct}=="${r.product}"`];
  if (r.serial) match.push(`ATTRS{serial}=="${r.serial}"`);
  const access = [
    ...(r.owner ? [`OWNER="${r.owner}"`] : []),
    ...(r.group ? [`GROUP="${r.group}"`] : []),
    `MODE="${r.mode}"`,
  ];
  const gone = [`SUBSYSTEM=="tty"`, `ENV{ID_VENDOR_ID}=="${r.vendor}"`, `ENV{ID_MODEL_ID}=="${r.product}"`];
  if (r.serial) gone.push(`ENV{ID_SERIAL_SHORT}=="${r.serial}"`);
  const onAdd = [
    `RUN+="/bin/ln -f $devnode /dev/${r.name}"`,
    ...(r.nfd ? [`RUN+="${NFD_HELPER} add ${r.name}"`] : []),
  ];
  const onRemove = [
    `RUN+="/bin/rm -f /dev/${r.name}"`,
    ...(r.nfd ? [`RUN+="${NFD_HELPER} remove ${r.name}"`] : []),
  ];
  return ok(
    [
      `# ${r.name}: USB ${r.vendor}:${r.product}${r.serial ? ` serial ${r.serial}` : ''} (sidecar-destruct udev)` +
        (r.nfd ? `; labels the node ${NFD_LABEL_PREFIX}${r.name}=true while plugged in` : ''),
      `ACTION=="add", ${match.join(', ')}, ${access.join(', ')}, ${onAdd.join(', ')}`,
      `ACTION=="remove", ${gone.join(', ')}, ${onRemove.join(', ')}`,
      '',
    ].join('\n'),
  );
}

/** A NodeFeatureRule that labels nodes with this USB device: the route that needs no udev rule. */
export function nodeFeatureRule(rule: DeviceRule): Result<string, string[]> {
  const checked = validate({ ...rule, nfd: true });
  if (!checked.ok) return checked;
  const r = checked.value;
  const expressions = [
    `            vendor: { op: In, value: ["${r.vendor}"] }`,
    `            device: { op: In, value: ["${r.product}"] }`,
    ...(r.serial ? [`            serial: { op: In, value: ["${r.serial}"] }`] : []),
  ];
  return ok(
    [
      '# node-feature-discovery labels the node while the device is present (at its next scan: core.sleepInterval).',
      'apiVersion: nfd.k8s-sigs.io/v1alpha1',
      'kind: NodeFeatureRule',
      'metadata:',
      `  name: sidecar-destruct-${r.name}`,
      'spec:',
      '  rules:',
      `    - name: "${r.name}: USB ${r.vendor}:${r.product}"`,
      '      labels:',
      `        "${r.name}": "true"`,
      '      matchFeatures:',
      '        - feature: usb.device',
      '          matchExpressions:',
      ...expressions,
      '',
    ].join('\n'),
  );
}
