/**
 * What `npm test` (and `demo --real-node`) builds and runs beside the API server: a real node (kubelet, containerd, runc) on this machine, the
 * images as users pull them, node-feature-discovery, Helm, qemu and the 16K-page arm64 VM.
 */
export { arm64VmCommand, VM_HOST_ADDRESS, vm16kAssets } from './arm64-vm.js';
export { buildStep, helmBinary, qemuAarch64, type ShippedImage, shippedImages } from './build-step.js';
export {
  buildNfd,
  deployNfd,
  type FakeUsbDevice,
  FEATURES_D,
  NFD_NAMESPACE,
  NFD_UPGRADE_TO,
  NFD_VERSION,
  type NfdBuild,
  type NfdHost,
  nfdKustomization,
  nfdLabels,
  plugFakeUsb,
  prepareNfdHost,
  unplugFakeUsb,
  ZIGBEE_STICK,
} from './nfd.js';
export { ELF_MACHINE, elfMachine, ImageArchive, type ImageConfig, type Platform } from './oci.js';
export {
  buildRealNode,
  REAL_NODE_DIR,
  type RealNode,
  type RealNodeBuild,
  realNodeLeftovers,
  realNodeUnavailable,
  startLocalRegistry,
  startRealNode,
  stopAllRealNodes,
  watchedSysctls,
} from './real-node.js';
export { podWithSidecar, sidecarNamespace } from './sidecar-pods.js';
export { type UsbSerialDevice, udevEvent } from './udev-event.js';
export {
  type RunningWebhook,
  startWebhook,
  TEST_SIDECAR_IMAGE,
  WEBHOOK_NAMESPACE,
  type WebhookOptions,
} from './webhook.js';
