import { defineConfig } from 'vitest/config';

// The suites on a real node (test/e2e/real-node.e2e.test.ts, node-feature-discovery on it in
// test/e2e/nfd.e2e.test.ts, the kubectl plugin's check of an install in test/e2e/kubectl-plugin-install.e2e.test.ts): a kubelet, containerd and runc on this machine, as root, one suite at a time.
// Run by scripts/test-real-node.sh (npm run test:real-node).
export default defineConfig({
  test: {
    name: 'real-node',
    include: [
      'test/e2e/real-node.e2e.test.ts',
      'test/e2e/nfd.e2e.test.ts',
      'test/e2e/kubectl-plugin-install.e2e.test.ts',
    ],
    fileParallelism: false,
    testTimeout: 120_000,
    // The first run builds kubelet, containerd, runc, the CNI plugins and the images (about 10 minutes here).
    hookTimeout: 1_800_000,
  },
});
