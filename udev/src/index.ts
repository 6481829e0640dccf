export { UDEV_HELP, udevCommand } from './command.js';
export { type DeviceRule, deviceRules, validate } from './rules.js';
