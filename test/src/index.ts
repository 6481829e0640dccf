export { controlPlaneBinaries } from './binaries.js';
export { type ControlPlane, type ControlPlaneOptions, freePort, startControlPlane } from './controlplane.js';
export {
  type LogLine,
  type RunningSidecar,
  resolveEnv,
  SIDECAR_BUNDLE,
  SIDECAR_CONTAINER,
  startSidecar,
} from './kubelet.js';
export { MERGE_PATCH, type Reply, type Rest, restClient } from './rest.js';
