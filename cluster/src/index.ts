export { arm64VmCommand, VM_HOST_ADDRESS, vm16kAssets } from './arm64-vm.js';
export { controlPlaneBinaries } from './binaries.js';
export { buildStep, helmBinary, qemuAarch64, type ShippedImage, shippedImages } from './build-step.js';
export { type ClusterDemoOptions, DEMO_LABEL, runClusterDemo } from './cluster-demo.js';
export {
  type ControlPlane,
  type ControlPlaneOptions,
  freePort,
  startControlPlane,
  stopAllControlPlanes,
} from './controlplane.js';
export { DEMO_HELP, type DemoOptions, type DemoResult, describeInjection, runDemo } from './demo.js';
export {
  type Fault,
  type FaultMix,
  type FaultProxy,
  type FaultProxyOptions,
  seededRandom,
  startFaultProxy,
} from './faultproxy.js';
export {
  Kubelet,
  type LogLine,
  type RunningSidecar,
  resolveEnv,
  SIDECAR_BUNDLE,
  SIDECAR_CONTAINER,
  startSidecar,
} from './kubelet.js';
export { type LoopbackCertificate, loopbackServingCertificate } from './loopback.js';
export {
  apply,
  DEPLOY_DIR,
  localWebhookConfiguration,
  type Manifest,
  policiesInForce,
  readManifests,
} from './manifests.js';
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
} from './nfd.js';
export { type LabelSnapshot, type NodeWatch, watchNode } from './node-watch.js';
export { NFD_BASELINE_LABELS, registerNode, setNodeLabels } from './nodes.js';
export { ELF_MACHINE, elfMachine, ImageArchive, type ImageConfig, type Platform } from './oci.js';
export { type Posted, type PostOptions, postReview } from './post-review.js';
export {
  buildRealNode,
  REAL_NODE_DIR,
  REAL_NODE_NETWORK,
  type RealNode,
  type RealNodeBuild,
  realNodeLeftovers,
  realNodeUnavailable,
  startLocalRegistry,
  startRealNode,
  stopAllRealNodes,
  watchedSysctls,
} from './real-node.js';
export { REAL_NODE_DEMO_HELP, runRealNodeDemo } from './real-node-demo.js';
export { MERGE_PATCH, type Reply, type Rest, restClient } from './rest.js';
export { SIDECAR_RUNTIME, sidecarRuntime } from './runtime.js';
export { serviceAccountKubeconfig } from './service-account-kubeconfig.js';
export { podWithSidecar, sidecarNamespace } from './sidecar-pods.js';
export { type UsbSerialDevice, udevEvent } from './udev-event.js';
export { until } from './until.js';
export {
  type RunningWebhook,
  startWebhook,
  TEST_SIDECAR_IMAGE,
  WEBHOOK_NAMESPACE,
  type WebhookOptions,
} from './webhook.js';
