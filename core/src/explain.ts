/**
 * Verdicts in words, and `sidecar-destruct explain`: would this pod self-destruct on this node, and why. Pure:
 * documents in, report out. The sidecar's logs and Events use the same sentences.
 */
import { match, type Unmet, type Verdict } from './match.js';
import { parseNode, parsePod } from './objects.js';
import { err, ok, type Result } from './result.js';
import { describeRule, type Rule, ruleOf } from './rule.js';
import { describeSettings, type Settings, settingsOf } from './settings.js';

/** A failed requirement and where in the rule it is: `nodeSelector`, `term 2`, `selector`. */
export interface PlacedUnmet extends Unmet {
  readonly where: string;
}

/** The verdict as `explain --json` prints it. */
export type WordedVerdict =
  | { readonly matches: true; readonly reason: string }
  | { readonly matches: false; readonly reason: string; readonly failures: readonly PlacedUnmet[] };

export interface Explanation {
  readonly pod: { readonly namespace?: string; readonly name?: string };
  readonly node: string;
  readonly rule: Rule;
  readonly settings: Settings;
  readonly verdict: WordedVerdict;
}

/** Every failed requirement of a verdict, with where it is in the rule. */
export function placedFailures(rule: Rule, verdict: Verdict): PlacedUnmet[] {
  const selector = verdict.selector.map((f) => ({ where: 'nodeSelector', ...f }));
  const { terms } = verdict;
  if (terms.kind === 'no-terms') {
    return [
      ...selector,
      {
        where: 'required node affinity',
        requirement: '(no terms)',
        why: 'a required node affinity without terms matches no node',
      },
    ];
  }
  if (terms.kind !== 'failed') return selector;
  const annotation = rule.source === 'annotation';
  return [
    ...selector,
    ...terms.perTerm.flatMap((failures, i) =>
      failures.map((f) => ({ where: annotation ? 'selector' : `term ${i + 1}`, ...f })),
    ),
  ];
}

const render = (failures: readonly Unmet[]): string =>
  failures.map((f) => `${f.requirement}: ${f.why}`).join('; ');

/** The verdict in one sentence, naming the node: the reason in logs, Events and `explain`. */
export function describeVerdict(rule: Rule, nodeName: string, verdict: Verdict): string {
  const subject = nodeName ? `node ${nodeName}` : 'the node';
  const annotation = rule.source === 'annotation';
  const { terms } = verdict;
  if (verdict.matches) {
    if (annotation) return `${subject} matches the selector annotation`;
    if (Object.keys(rule.nodeSelector).length === 0 && terms.kind === 'none')
      return 'nothing to enforce: the pod has no node constraints';
    const parts: string[] = [];
    if (Object.keys(rule.nodeSelector).length > 0) parts.push('every nodeSelector entry');
    if (terms.kind === 'matched') parts.push(`required node affinity term ${terms.index + 1}`);
    return `${subject} matches ${parts.join(' and ')}`;
  }
  const clauses: string[] = [];
  if (verdict.selector.length > 0) clauses.push(`nodeSelector ${render(verdict.selector)}`);
  if (terms.kind === 'no-terms') clauses.push('required node affinity has no terms, so it matches no node');
  if (terms.kind === 'failed') {
    if (annotation) clauses.push(`selector ${render(terms.perTerm.flat())}`);
    else {
      const byTerm = terms.perTerm.map((failures, i) => `term ${i + 1}: ${render(failures)}`);
      clauses.push(`no required node affinity term matches (${byTerm.join(' | ')})`);
    }
  }
  return `${subject} does not match: ${clauses.join('; ')}`;
}

/** The verdict with its sentence and, when it fails, each failed requirement placed in the rule. */
function wordVerdict(rule: Rule, nodeName: string, verdict: Verdict): WordedVerdict {
  const reason = describeVerdict(rule, nodeName, verdict);
  return verdict.matches
    ? { matches: true, reason }
    : { matches: false, reason, failures: placedFailures(rule, verdict) };
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
    verdict: wordVerdict(rule.value, node.value.metadata?.name ?? '', match(rule.value, node.value)),
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
