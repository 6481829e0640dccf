/**
 * `kubectl sidecar-destruct` (the executable `kubectl-sidecar_destruct`): what is protected, why a pod would go,
 * and whether the install is healthy, read live from the current cluster. It connects as kubectl does
 * (`--kubeconfig`, `KUBECONFIG`, `--context`, `-n`) and only reads.
 */
import { readCommandLine, settingsHelp } from '@sidecar-destruct/core';
import { type Io, UsageError } from '../io.js';
import { kubeConfigFor } from '../kube.js';
import { checkInstall } from './check.js';
import { Cluster } from './cluster.js';
import { type Answer, explainLive } from './explain.js';
import { FORMATS, type Format } from './output.js';
import { statusOf } from './status.js';

export const PLUGIN_SETTINGS = {
  kubeconfig: {
    flag: 'kubeconfig',
    default: '',
    help: 'the kubeconfig; without it $KUBECONFIG, ~/.kube/config, or in-cluster',
  },
  context: { flag: 'context', default: '', help: 'the kubeconfig context to use' },
  namespace: {
    flag: 'namespace',
    short: 'n',
    default: '',
    help: "the namespace (default: the context's, else default)",
  },
  allNamespaces: {
    flag: 'all-namespaces',
    short: 'A',
    default: '',
    boolean: true,
    help: 'status: every namespace',
  },
  output: { flag: 'output', short: 'o', default: 'table', help: 'table, json or yaml' },
  nodes: {
    flag: 'nodes',
    default: '',
    boolean: true,
    help: 'explain: every node, and whether a replacement could go there',
  },
  node: { flag: 'node', default: '', help: 'explain: the same question for another node' },
  probeNamespace: {
    flag: 'probe-namespace',
    default: '',
    help: 'check: where to dry-run an opted-in pod (default: the first namespace labelled for injection)',
  },
} as const;

export const PLUGIN_HELP = settingsHelp(
  'kubectl sidecar-destruct explain POD [--nodes | --node NAME] | status [-A] | check [flags]',
  `See, live, what sidecar-destruct protects, why a pod would go, and whether the install is healthy.

  explain POD   would this pod self-destruct on its node, and why (exit 0 no, 1 yes; with --nodes: 0 a
                replacement has somewhere to go, 1 it would stay Pending)
  status        one row per opted-in pod: node, rule, verdict, grace, injection, last Event, roles
                (exit 1 when a pod is not protected)
  check         the install's health, line by line, with the fix (exit 1 when something is broken)

Every command reads only (check also makes one server-side dry run, which stores nothing). Exit 2: bad
flags, or the cluster could not be read; what RBAC hid is said, never skipped silently.`,
  PLUGIN_SETTINGS,
);

type Read = Extract<ReturnType<typeof readCommandLine<typeof PLUGIN_SETTINGS>>, { ok: true }>['value'] & {
  help: false;
};

async function dispatch(line: Read, io: Io): Promise<Answer> {
  const { read, positionals } = line;
  const [command, ...rest] = positionals;
  const format = read.oneOf('output', FORMATS) as Format;
  const kubeConfig = kubeConfigFor(read.optional('kubeconfig'), io.env, read.optional('context'));
  if (read.errors.length > 0) throw new UsageError(read.errors.join('; '));
  if (!kubeConfig.ok) return { text: kubeConfig.error, status: 2 };
  const context = kubeConfig.value.getContextObject(kubeConfig.value.getCurrentContext());
  const namespace = read.optional('namespace') ?? context?.namespace ?? 'default';
  const cluster = new Cluster(kubeConfig.value);
  const unusable = await cluster.unusable();
  if (unusable) return { text: unusable, status: 2 };
  if (command === 'explain') {
    const [pod] = rest;
    if (!pod || rest.length > 1) throw new UsageError('explain needs exactly one POD');
    const node = read.optional('node');
    if (node && read.on('nodes')) throw new UsageError('--nodes and --node exclude each other');
    return explainLive(
      cluster,
      { namespace, pod, nodes: read.on('nodes'), ...(node ? { node } : {}) },
      format,
    );
  }
  if (rest.length > 0) throw new UsageError(`${command} takes no arguments`);
  if (command === 'status')
    return statusOf(cluster, read.on('allNamespaces') ? undefined : namespace, format);
  if (command === 'check') return checkInstall(cluster, read.optional('probeNamespace'), new Date(), format);
  throw new UsageError(
    command ? `unknown command "${command}"` : 'a command is needed: explain, status or check',
  );
}

/** The plugin's entry: prints the answer, or one line saying what went wrong; never a stack trace. */
export async function pluginCommand(args: readonly string[], io: Io): Promise<number> {
  const line = readCommandLine(PLUGIN_SETTINGS, args, io.env, { positionals: true });
  if (!line.ok) throw new UsageError(line.error.join('; '));
  if (line.value.help) {
    io.stdout(PLUGIN_HELP);
    return 0;
  }
  const answer = await dispatch(line.value, io);
  if (answer.status === 2 && answer.text && !answer.text.includes('\n')) return io.fail(answer.text);
  io.stdout(answer.text.endsWith('\n') ? answer.text : `${answer.text}\n`);
  return answer.status;
}
