/** `sidecar-destruct demo [--keep]`: runs the narrated story (test/src/demo.ts); Ctrl-C always cleans up. */
import { parseArgs } from 'node:util';
import type { Io } from './io.js';

export async function demoCommand(args: string[], io: Io): Promise<number> {
  // Loaded here, not at the top: the container image leaves the test harness out, and its bundle must not
  // import it at start-up.
  let harness: typeof import('@sidecar-destruct/test');
  try {
    harness = await import('@sidecar-destruct/test');
  } catch {
    return io.fail(
      'the demo is not part of this build (it needs the test harness); run it from a clone: npm run demo',
    );
  }
  const { DEMO_HELP, runDemo, stopAllControlPlanes } = harness;
  const { values } = parseArgs({
    args,
    options: {
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout(DEMO_HELP);
    return 0;
  }
  let interrupt = (): void => {};
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  process.once('SIGINT', () => {
    if (values.keep) {
      interrupt();
      return;
    }
    io.stdout('\nInterrupted: stopping and removing the control plane\n');
    void stopAllControlPlanes().finally(() => process.exit(130));
  });
  try {
    await runDemo({ keep: values.keep, write: (line) => io.stdout(`${line}\n`), interrupted });
    return 0;
  } catch (e) {
    return io.fail(`demo failed: ${(e as Error).message}`);
  }
}
