/** The sidecar container's entry point (bundled into dist/sidecar.mjs). */
import { main } from './main.js';

process.exit(await main(process.argv.slice(2), process.env));
