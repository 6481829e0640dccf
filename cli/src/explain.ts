/** `sidecar-destruct explain --pod FILE --node FILE [--json]`: exit 0 = matches, 1 = does not, 2 = bad input. */
import { parseArgs } from 'node:util';
import { explain, formatExplanation } from '@sidecar-destruct/core';
import { type ReadText, readDocument } from './documents.js';
import { type Io, UsageError } from './io.js';

export const EXPLAIN_HELP = `Usage: sidecar-destruct explain --pod FILE --node FILE [--json]

Would this pod self-destruct on this node? Prints the pod's rule (its nodeSelector and required node
affinity, or its sidecar-destruct.io/selector annotation), its settings, and the verdict with the reason.

Options:
  --pod FILE    the Pod, as YAML or JSON ("-" reads stdin), e.g. kubectl get pod NAME -o yaml
  --node FILE   the Node, as YAML or JSON ("-" reads stdin), e.g. kubectl get node NAME -o yaml
  --json        print the explanation as JSON
  -h, --help    show this help

Exit status: 0 the node matches, 1 it does not (the pod would self-destruct), 2 bad input.
`;

export async function explainCommand(args: string[], io: Io, read: ReadText): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      pod: { type: 'string' },
      node: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(EXPLAIN_HELP);
    return 0;
  }
  if (values.pod === undefined || values.node === undefined)
    throw new UsageError('explain needs --pod FILE and --node FILE');
  if (values.pod === '-' && values.node === '-')
    throw new UsageError('only one of --pod and --node can read stdin');

  const pod = await readDocument(values.pod, read);
  if (!pod.ok) return io.fail(pod.error);
  const node = await readDocument(values.node, read);
  if (!node.ok) return io.fail(node.error);
  const explanation = explain(pod.value, node.value);
  if (!explanation.ok) return io.fail(explanation.error);

  io.stdout(
    values.json ? `${JSON.stringify(explanation.value, null, 2)}\n` : formatExplanation(explanation.value),
  );
  return explanation.value.verdict.matches ? 0 : 1;
}
