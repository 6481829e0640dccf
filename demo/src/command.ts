/**
 * `npm run demo [-- --keep | --real-node | --kubeconfig FILE --node-a A --node-b B]`: runs the narrated story
 * (demo.ts) on a local control plane, on a real node (real-node-demo.ts), or on an existing cluster
 * (cluster-demo.ts); Ctrl-C always cleans up.
 */
import { parseArgs } from 'node:util';
import { runClusterDemo } from './cluster-demo.js';
import { DEMO_HELP, runDemo } from './demo.js';
import { REAL_NODE_DEMO_HELP, runRealNodeDemo } from './real-node-demo.js';
import { stopEverything } from './stop.js';

/** Where the demo writes: its narration, and a failure (returning the exit status). */
export interface DemoIo {
  stdout(text: string): void;
  fail(message: string): number;
}

const harness = { runClusterDemo, runDemo, runRealNodeDemo, stopEverything };
type Harness = typeof harness;
type Io = DemoIo;

const OPTIONS = {
  keep: { type: 'boolean', default: false },
  'real-node': { type: 'boolean', default: false },
  kubeconfig: { type: 'string' },
  'node-a': { type: 'string' },
  'node-b': { type: 'string' },
  image: { type: 'string', default: 'busybox:1.37' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];

/** Runs one story, turning its failure into the command's. */
async function story(io: Io, run: () => Promise<unknown>): Promise<number> {
  try {
    await run();
    return 0;
  } catch (e) {
    return io.fail(`demo failed: ${(e as Error).message}`);
  }
}

/** The story on the real node; Ctrl-C restores the host and stops the control plane. */
function realNode(harness: Harness, io: Io): Promise<number> {
  process.once('SIGINT', () => {
    io.stdout('\nInterrupted: stopping the real node (restoring the host) and the control plane\n');
    void harness.stopEverything().finally(() => process.exit(130));
  });
  return story(io, () => harness.runRealNodeDemo({ write: (line) => io.stdout(`${line}\n`) }));
}

/** The story on the user's cluster, with a label and a namespace of its own that it removes at the end. */
function onCluster(harness: Harness, io: Io, values: Values, kubeconfig: string): Promise<number> {
  const nodeA = values['node-a'];
  const nodeB = values['node-b'];
  if (!nodeA || !nodeB)
    return Promise.resolve(io.fail('demo --kubeconfig needs --node-a NODE and --node-b NODE'));
  // Ctrl-C ends the story; the cleanup in runClusterDemo's finally still runs.
  return story(io, async () => {
    const { reactionMs } = await harness.runClusterDemo({
      kubeconfig,
      nodeA,
      nodeB,
      image: values.image,
      write: (line) => io.stdout(`${line}\n`),
    });
    io.stdout(`\nReaction on your cluster: label moved -> pod deleting in ${reactionMs.toFixed(0)} ms\n`);
  });
}

/** The story on a local control plane; with --keep, Ctrl-C ends the wait and leaves it running. */
function local(harness: Harness, io: Io, keep: boolean): Promise<number> {
  let interrupt = (): void => {};
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  process.once('SIGINT', () => {
    if (keep) {
      interrupt();
      return;
    }
    io.stdout('\nInterrupted: stopping and removing the control plane\n');
    void harness.stopEverything().finally(() => process.exit(130));
  });
  return story(io, () => harness.runDemo({ keep, write: (line) => io.stdout(`${line}\n`), interrupted }));
}

export async function demoCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS, strict: true });
  if (values.help) {
    io.stdout(DEMO_HELP + REAL_NODE_DEMO_HELP);
    return 0;
  }
  if (values['real-node']) return realNode(harness, io);
  const kubeconfig = values.kubeconfig ?? (values['node-a'] ? process.env.KUBECONFIG : undefined);
  if (kubeconfig) return onCluster(harness, io, values, kubeconfig);
  return local(harness, io, values.keep);
}
