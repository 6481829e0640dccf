/** `sidecar-destruct explain`: would this pod self-destruct on this node, and why. Pure: documents in, report out. */
import { match, type Verdict } from './match.js';
import { parseNode, parsePod } from './objects.js';
import { err, ok, type Result } from './result.js';
import { describeRule, type Rule, ruleOf } from './rule.js';
import { describeSettings, type Settings, settingsOf } from './settings.js';

export interface Explanation {
  readonly pod: { readonly namespace?: string; readonly name?: string };
  readonly node: string;
  readonly rule: Rule;
  readonly settings: Settings;
  readonly verdict: Verdict;
}

/** Parses both documents and matches; an error is one line saying which input is wrong and how. */
export function explain(podDocument: unknown, nodeDocument: unknown): Result<Explanation> {
  const pod = parsePod(podDocument);
  if (!pod.ok) return err(`pod: ${pod.error}`);
  const node = parseNode(nodeDocument);
  if (!node.ok) return err(`node: ${node.error}`);
  const rule = ruleOf(pod.value);
  if (!rule.ok) return err(`pod: ${rule.error}`);
  const settings = settingsOf(pod.value.metadata?.annotations);
  if (!settings.ok) return err(`pod: ${settings.error.join('; ')}`);
  const meta = pod.value.metadata ?? {};
  return ok({
    pod: {
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      ...(meta.name ? { name: meta.name } : {}),
    },
    node: node.value.metadata?.name ?? '',
    rule: rule.value,
    settings: settings.value,
    verdict: match(rule.value, node.value),
  });
}

/** The report for a terminal. */
export function formatExplanation(e: Explanation): string {
  const podName = [e.pod.namespace, e.pod.name ?? '(unnamed)'].filter(Boolean).join('/');
  const lines = [
    `pod:      ${podName}`,
    `node:     ${e.node || '(unnamed)'}`,
    'rule:',
    ...describeRule(e.rule).map((line) => `  ${line}`),
    `settings: ${describeSettings(e.settings)}`,
  ];
  if (e.verdict.matches) {
    lines.push(`verdict:  MATCH - ${e.verdict.reason}`, '          the pod stays on this node');
  } else {
    const consequence = e.settings.dryRun
      ? 'dry-run: the sidecar would only report (log + Event)'
      : `the sidecar would ${e.settings.action} the pod${e.settings.gracePeriodMs > 0 ? ' once the mismatch has lasted the grace period' : ''}`;
    lines.push(
      'verdict:  MISMATCH',
      ...e.verdict.failures.map((f) => `  - ${f.where}: ${f.requirement}: ${f.why}`),
      `          ${consequence}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
