export {
  type DeviceRule,
  deviceRules,
  NFD_HELPER,
  NFD_LABEL_PREFIX,
  nodeFeatureRule,
  validate,
} from './rules.js';
