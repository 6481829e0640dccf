/** The narrated demos `npm run demo` tells: on a local control plane, on a real node, or on your cluster. */
export { type ClusterDemoOptions, runClusterDemo } from './cluster-demo.js';
export { type DemoOptions, type DemoResult, runDemo } from './demo.js';
export { runRealNodeDemo } from './real-node-demo.js';
export { stopEverything } from './stop.js';
