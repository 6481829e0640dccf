/** The sidecar container's entry point, bundled into dist/sidecar.cjs. */
import { main } from './main.js';

// CommonJS, not ESM: Node's ESM loader alone costs the process a few MB of RSS (bench/memory.ts measures the bundle).
main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
