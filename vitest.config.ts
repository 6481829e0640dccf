import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{sidecar,cli,webhook,certs}/test/**/*.test.ts'],
          testTimeout: 5_000,
        },
      },
    ],
  },
});
