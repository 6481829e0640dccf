/** `sidecar-destruct explain --pod FILE --node FILE [--json]`: exit 0 = matches, 1 = does not, 2 = bad input. */
import { explain, formatExplanation, readCommandLine, settingsHelp } from '@sidecar-destruct/core';
import { readDocument } from './documents.js';
import { type Io, UsageError } from './io.js';

export const EXPLAIN_SETTINGS = {
  pod: {
    flag: 'pod',
    default: '',
    help: 'the Pod, as YAML or JSON ("-" reads stdin), e.g. kubectl get pod NAME -o yaml',
  },
  node: {
    flag: 'node',
    default: '',
    help: 'the Node, as YAML or JSON ("-" reads stdin), e.g. kubectl get node NAME -o yaml',
  },
  json: { flag: 'json', default: '', boolean: true, help: 'print the explanation as JSON' },
} as const;

export const EXPLAIN_HELP = settingsHelp(
  'sidecar-destruct explain --pod FILE --node FILE [--json]',
  `Would this pod self-destruct on this node? Prints the pod's rule (its nodeSelector and required node
affinity, or its sidecar-destruct.io/selector annotation), its settings, and the verdict with the reason.
Exit status: 0 the node matches, 1 it does not (the pod would self-destruct), 2 bad input.`,
  EXPLAIN_SETTINGS,
);

export async function explainCommand(args: readonly string[], io: Io): Promise<number> {
  const line = readCommandLine(EXPLAIN_SETTINGS, args, io.env);
  if (!line.ok) throw new UsageError(line.error.join('; '));
  if (line.value.help) {
    io.stdout(EXPLAIN_HELP);
    return 0;
  }
  const { read } = line.value;
  const [podFile, nodeFile] = [read.required('pod'), read.required('node')];
  if (read.errors.length > 0) throw new UsageError(`explain needs --pod FILE and --node FILE`);
  if (podFile === '-' && nodeFile === '-')
    throw new UsageError('only one of --pod and --node can read stdin');

  const pod = await readDocument(podFile, io.readText);
  if (!pod.ok) return io.fail(pod.error);
  const node = await readDocument(nodeFile, io.readText);
  if (!node.ok) return io.fail(node.error);
  const explanation = explain(pod.value, node.value);
  if (!explanation.ok) return io.fail(explanation.error);

  io.stdout(
    read.on('json')
      ? `${JSON.stringify(explanation.value, null, 2)}\n`
      : formatExplanation(explanation.value),
  );
  return explanation.value.verdict.matches ? 0 : 1;
}
