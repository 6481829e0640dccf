export { type CommandIo, UDEV_HELP, udevCommand } from './command.js';
export {
  type DeviceRule,
  deviceRules,
  NFD_HELPER,
  NFD_LABEL_PREFIX,
  nodeFeatureRule,
  validate,
} from './rules.js';
