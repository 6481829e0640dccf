/**
 * `sidecar-destruct demo [--keep]`: runs the narrated story (cluster/src/demo.ts) on a local control plane, or on
 * an existing cluster with --kubeconfig (cluster/src/cluster-demo.ts); Ctrl-C always cleans up.
 */
import { parseArgs } from 'node:util';
import type { Io } from './io.js';

export async function demoCommand(args: string[], io: Io): Promise<number> {
  // Loaded here, not at the top: the container image leaves the local cluster harness out, and its bundle must
  // not import it at start-up.
  let harness: typeof import('@sidecar-destruct/cluster');
  try {
    harness = await import('@sidecar-destruct/cluster');
  } catch {
    return io.fail(
      'the demo is not part of this build (it needs the local cluster harness); run it from a clone: npm run demo',
    );
  }
  const { DEMO_HELP, REAL_NODE_DEMO_HELP, runClusterDemo, runDemo, runRealNodeDemo, stopAllControlPlanes } =
    harness;
  const { values } = parseArgs({
    args,
    options: {
      keep: { type: 'boolean', default: false },
      'real-node': { type: 'boolean', default: false },
      kubeconfig: { type: 'string' },
      'node-a': { type: 'string' },
      'node-b': { type: 'string' },
      image: { type: 'string', default: 'busybox:1.37' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout(DEMO_HELP + REAL_NODE_DEMO_HELP);
    return 0;
  }
  if (values['real-node']) {
    process.once('SIGINT', () => {
      io.stdout('\nInterrupted: stopping the real node (restoring the host) and the control plane\n');
      void harness
        .stopAllRealNodes()
        .then(() => stopAllControlPlanes())
        .finally(() => process.exit(130));
    });
    try {
      await runRealNodeDemo({ write: (line) => io.stdout(`${line}\n`) });
      return 0;
    } catch (e) {
      return io.fail(`demo failed: ${(e as Error).message}`);
    }
  }
  const kubeconfig = values.kubeconfig ?? (values['node-a'] ? process.env.KUBECONFIG : undefined);
  if (kubeconfig) {
    if (!values['node-a'] || !values['node-b'])
      return io.fail('demo --kubeconfig needs --node-a NODE and --node-b NODE');
    try {
      // Ctrl-C ends the story; the cleanup in runClusterDemo's finally still runs.
      const { reactionMs } = await runClusterDemo({
        kubeconfig,
        nodeA: values['node-a'],
        nodeB: values['node-b'],
        image: values.image,
        write: (line) => io.stdout(`${line}\n`),
      });
      io.stdout(`\nReaction on your cluster: label moved -> pod deleting in ${reactionMs.toFixed(0)} ms\n`);
      return 0;
    } catch (e) {
      return io.fail(`demo failed: ${(e as Error).message}`);
    }
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
