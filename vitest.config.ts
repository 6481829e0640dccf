import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{core,sidecar,cli,webhook,certs,udev}/test/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 5_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          // A real kubelet, containerd and runc (root, Linux): their own command, vitest.real-node.config.ts.
          exclude: [
            ...configDefaults.exclude,
            'test/e2e/real-node.e2e.test.ts',
            'test/e2e/nfd.e2e.test.ts',
            'test/e2e/kubectl-plugin-install.e2e.test.ts',
          ],
          // Each suite starts its own control plane; on 2 cores they run one after another.
          fileParallelism: false,
          testTimeout: 60_000,
          // The first run may build the control-plane binaries (about 8 minutes here).
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
