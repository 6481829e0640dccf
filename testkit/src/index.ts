/**
 * The test kit: a control plane of real binaries (kube-apiserver, etcd, kube-scheduler, kube-controller-manager)
 * built from source, a stand-in kubelet that runs the sidecar bundle for each pod, admin REST calls, the loopback
 * test CA, the fault proxy, deploy/'s manifests and a watch on a Node's labels. Tests, benchmarks and demos use
 * it; nothing a user runs in a cluster does. The product run as it ships (the webhook process, the images, a real
 * node, udev's rules run as udevd runs them) is in infra/.
 */
export { controlPlaneBinaries } from './binaries.js';
export {
  type ControlPlane,
  type ControlPlaneOptions,
  freePort,
  startControlPlane,
  stopAllControlPlanes,
} from './controlplane.js';
export {
  type Fault,
  type FaultMix,
  type FaultProxy,
  type FaultProxyOptions,
  seededRandom,
  startFaultProxy,
} from './faultproxy.js';
export { type LoopbackCertificate, loopbackServingCertificate } from './loopback.js';
export {
  apply,
  DEPLOY_DIR,
  localWebhookConfiguration,
  type Manifest,
  policiesInForce,
  readManifests,
} from './manifests.js';
export { type LabelSnapshot, type NodeWatch, watchNode } from './node-watch.js';
export { NFD_BASELINE_LABELS, registerNode, setNodeLabels, USB_LABEL } from './nodes.js';
export { type Posted, type PostOptions, postReview } from './post-review.js';
export { MERGE_PATCH, type Reply, type Rest, restClient } from './rest.js';
export { SIDECAR_RUNTIME, sidecarRuntime } from './runtime.js';
export { serviceAccountKubeconfig } from './service-account-kubeconfig.js';
export {
  type LogLine,
  type RunningSidecar,
  SIDECAR_BUNDLE,
  SIDECAR_CONTAINER,
  StandInKubelet,
  startSidecar,
} from './stand-in-kubelet.js';
export { until } from './until.js';
