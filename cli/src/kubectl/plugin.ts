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
  check         the install's health, line by line, with the fix (exit 1 something is broken, 3 something
                could not be verified)

Every command reads only (check also makes one server-side dry run, which stores nothing). Exit 2: bad
flags, or the cluster could not be read; what RBAC hid is said, never skipped silently.`,
  PLUGIN_SETTINGS,
);

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A name from the command line, checked before it goes into a request's path (no `/`, `?` or `#` in it). */
function named(what: string, value: string | undefined, form: RegExp, max: number): string | undefined {
  if (value !== undefined && (!form.test(value) || value.length > max))
    throw new UsageError(`${what} "${value}" is not a valid Kubernetes name`);
  return value;
}

type Read = Extract<ReturnType<typeof readCommandLine<typeof PLUGIN_SETTINGS>>, { ok: true }>['value'] & {
  help: false;
};

/** The command and its own arguments, checked before anything connects: a typo is a usage error, not a network one. */
function commandOf(line: Read): { run: 'explain'; pod: string; node?: string } | { run: 'status' | 'check' } {
  const { read, positionals } = line;
  const [command, ...rest] = positionals;
  if (command === 'explain') {
    const [pod] = rest;
    if (!pod || rest.length > 1) throw new UsageError('explain needs exactly one POD');
    const node = named('--node', read.optional('node'), SUBDOMAIN, 253);
    if (node && read.on('nodes')) throw new UsageError('--nodes and --node exclude each other');
    return { run: 'explain', pod: named('pod', pod, SUBDOMAIN, 253) ?? pod, ...(node ? { node } : {}) };
  }
  if (command !== 'status' && command !== 'check')
    throw new UsageError(
      command ? `unknown command "${command}"` : 'a command is needed: explain, status or check',
    );
  if (rest.length > 0) throw new UsageError(`${command} takes no arguments`);
  return { run: command };
}

async function dispatch(line: Read, io: Io): Promise<Answer> {
  const { read } = line;
  const command = commandOf(line);
  const format = read.oneOf('output', FORMATS) as Format;
  const probeNamespace = named('--probe-namespace', read.optional('probeNamespace'), LABEL, 63);
  const flagNamespace = named('namespace', read.optional('namespace'), LABEL, 63);
  const kubeConfig = kubeConfigFor(read.optional('kubeconfig'), io.env, read.optional('context'));
  if (read.errors.length > 0) throw new UsageError(read.errors.join('; '));
  if (!kubeConfig.ok) return { text: kubeConfig.error, status: 2 };
  const context = kubeConfig.value.getContextObject(kubeConfig.value.getCurrentContext());
  const namespace = named('namespace', flagNamespace ?? context?.namespace ?? 'default', LABEL, 63) ?? '';
  const cluster = new Cluster(kubeConfig.value);
  const unusable = await cluster.unusable();
  if (unusable) return { text: unusable, status: 2 };
  if (command.run === 'explain') {
    const { pod, node } = command;
    return explainLive(
      cluster,
      { namespace, pod, nodes: read.on('nodes'), ...(node ? { node } : {}) },
      format,
    );
  }
  if (command.run === 'status')
    return statusOf(cluster, read.on('allNamespaces') ? undefined : namespace, format);
  return checkInstall(cluster, probeNamespace, new Date(), format);
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
