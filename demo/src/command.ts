/**
 * `npm run demo [-- --keep | --real-node | --kubeconfig FILE --node-a A --node-b B]`: runs the narrated story
 * (demo.ts) on a local control plane, on a real node (real-node-demo.ts), or on an existing cluster
 * (cluster-demo.ts); Ctrl-C always cleans up.
 */
import { type Env, readCommandLine, type SettingReader, settingsHelp } from '@sidecar-destruct/core';
import { runClusterDemo } from './cluster-demo.js';
import { runDemo } from './demo.js';
import { runRealNodeDemo } from './real-node-demo.js';
import { stopEverything } from './stop.js';

/** Where the demo writes: its narration, and a failure (returning the exit status); and the environment it reads. */
export interface DemoIo {
  stdout(text: string): void;
  fail(message: string): number;
  readonly env: Env;
}

const stories = { runClusterDemo, runDemo, runRealNodeDemo, stopEverything };
type Stories = typeof stories;
type Io = DemoIo;

const EXIT_BAD_INPUT = 2;

export const DEMO_SETTINGS = {
  keep: {
    flag: 'keep',
    default: '',
    boolean: true,
    help: 'leave the local control plane running, print its kubeconfig and wait for Ctrl-C',
  },
  realNode: {
    flag: 'real-node',
    default: '',
    boolean: true,
    help: 'the story on real containers: kubelet, containerd, runc and node-feature-discovery on this machine (built on first use, about 16 minutes; root on Linux; the host is restored at the end)',
  },
  kubeconfig: {
    flag: 'kubeconfig',
    default: '',
    help: 'run against this cluster instead of a local control plane ($KUBECONFIG with the node flags)',
  },
  nodeA: { flag: 'node-a', default: '', help: 'the node the workload starts on (on a cluster)' },
  nodeB: { flag: 'node-b', default: '', help: 'the node the label moves to (on a cluster)' },
  image: { flag: 'image', default: 'busybox:1.37', help: "the workload's image (on a cluster)" },
} as const;

export const DEMO_HELP = settingsHelp(
  `npm run demo [-- --keep]
       npm run demo -- --real-node
       npm run demo -- --kubeconfig FILE --node-a NODE --node-b NODE [--image IMAGE]`,
  `Starts a local control plane (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, built from the Go
module proxy on first use), installs sidecar-destruct from deploy/, runs deploy/examples/zigbee2mqtt.yaml on a
node with a USB stick, unplugs the stick and narrates what happens. Cleans up and exits 0.

With --kubeconfig (or $KUBECONFIG and the node flags): the same story on an existing cluster where
sidecar-destruct is installed. It puts a label of its own (sidecar-destruct.io/demo-device) on the two nodes,
runs a Deployment in a namespace of its own, moves the label, and removes both at the end. Nothing else is
touched.`,
  DEMO_SETTINGS,
);

type Values = SettingReader<typeof DEMO_SETTINGS>;

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
function realNode(stories: Stories, io: Io): Promise<number> {
  process.once('SIGINT', () => {
    io.stdout('\nInterrupted: stopping the real node (restoring the host) and the control plane\n');
    void stories.stopEverything().finally(() => process.exit(130));
  });
  return story(io, () => stories.runRealNodeDemo({ write: (line) => io.stdout(`${line}\n`) }));
}

/** The story on the user's cluster, with a label and a namespace of its own that it removes at the end. */
function onCluster(stories: Stories, io: Io, values: Values, kubeconfig: string): Promise<number> {
  const nodeA = values.optional('nodeA');
  const nodeB = values.optional('nodeB');
  if (!nodeA || !nodeB)
    return Promise.resolve(io.fail('demo --kubeconfig needs --node-a NODE and --node-b NODE'));
  // Ctrl-C ends the story; the cleanup in runClusterDemo's finally still runs.
  return story(io, async () => {
    const { reactionMs } = await stories.runClusterDemo({
      kubeconfig,
      nodeA,
      nodeB,
      image: values.raw('image'),
      write: (line) => io.stdout(`${line}\n`),
    });
    io.stdout(`\nReaction on your cluster: label moved -> pod deleting in ${reactionMs.toFixed(0)} ms\n`);
  });
}

/** The story on a local control plane; with --keep, Ctrl-C ends the wait and leaves it running. */
function local(stories: Stories, io: Io, keep: boolean): Promise<number> {
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
    void stories.stopEverything().finally(() => process.exit(130));
  });
  return story(io, () => stories.runDemo({ keep, write: (line) => io.stdout(`${line}\n`), interrupted }));
}

export async function demoCommand(args: readonly string[], io: Io): Promise<number> {
  const line = readCommandLine(DEMO_SETTINGS, args, io.env);
  if (!line.ok) {
    io.fail(`${line.error.join('; ')} (see 'npm run demo -- --help')`);
    return EXIT_BAD_INPUT;
  }
  if (line.value.help) {
    io.stdout(DEMO_HELP);
    return 0;
  }
  const { read } = line.value;
  if (read.on('realNode')) return realNode(stories, io);
  const kubeconfig = read.optional('kubeconfig') ?? (read.optional('nodeA') ? io.env.KUBECONFIG : undefined);
  if (kubeconfig) return onCluster(stories, io, read, kubeconfig);
  return local(stories, io, read.on('keep'));
}
