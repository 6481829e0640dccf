/** How a pod's scheduling constraints become the rule its node must keep matching. */
import type { V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from '@kubernetes/client-node';
import { SELECTOR_ANNOTATION } from './names.js';
import { err, ok, type Result } from './result.js';
import { formatRequirement, parseSelector, SELECTOR_FORM } from './selector.js';

export interface Rule {
  /** `pod`: the pod's nodeSelector AND its required node affinity; `annotation`: the selector annotation. */
  readonly source: 'pod' | 'annotation';
  /** Every entry must be a node label with exactly this value. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Required node affinity: at least one term must match. Absent when the pod has none. */
  readonly nodeSelectorTerms?: readonly V1NodeSelectorTerm[];
  /** The annotation's text, when the rule came from it. */
  readonly selector?: string;
}

const copyRequirement = (r: V1NodeSelectorRequirement): V1NodeSelectorRequirement =>
  r.values == null
    ? { key: r.key, operator: r.operator }
    : { key: r.key, operator: r.operator, values: [...r.values] };

/** A plain copy without nulls, so that a rule compares, serialises and renders the same wherever it came from. */
function copyTerm(term: V1NodeSelectorTerm): V1NodeSelectorTerm {
  const out: V1NodeSelectorTerm = {};
  if (term.matchExpressions != null) out.matchExpressions = term.matchExpressions.map(copyRequirement);
  if (term.matchFields != null) out.matchFields = term.matchFields.map(copyRequirement);
  return out;
}

/**
 * The rule of a pod: the `sidecar-destruct.io/selector` annotation when set, otherwise its nodeSelector AND
 * its `requiredDuringSchedulingIgnoredDuringExecution` node affinity (preferred affinity is ignored: it never
 * constrained the pod). Fails only on an unparseable selector annotation.
 */
export function ruleOf(pod: V1Pod): Result<Rule> {
  const annotations = pod.metadata?.annotations ?? {};
  if (Object.hasOwn(annotations, SELECTOR_ANNOTATION)) {
    const selector = annotations[SELECTOR_ANNOTATION] ?? '';
    const parsed = parseSelector(selector);
    if (!parsed.ok) {
      return err(
        `annotation ${SELECTOR_ANNOTATION}: "${selector}" is not valid (${parsed.error}); use ${SELECTOR_FORM}`,
      );
    }
    return ok({
      source: 'annotation',
      selector,
      nodeSelector: {},
      nodeSelectorTerms: [{ matchExpressions: parsed.value }],
    });
  }
  const nodeSelector = { ...(pod.spec?.nodeSelector ?? {}) };
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required == null) return ok({ source: 'pod', nodeSelector });
  return ok({
    source: 'pod',
    nodeSelector,
    nodeSelectorTerms: (required.nodeSelectorTerms ?? []).map(copyTerm),
  });
}

/** True when the rule constrains nothing: every node matches, so the sidecar has nothing to enforce. */
export function isEmptyRule(rule: Rule): boolean {
  return Object.keys(rule.nodeSelector).length === 0 && rule.nodeSelectorTerms === undefined;
}

function describeTerm(term: V1NodeSelectorTerm): string {
  const parts = [
    ...(term.matchExpressions ?? []).map(formatRequirement),
    ...(term.matchFields ?? []).map((r) => `field ${formatRequirement(r)}`),
  ];
  return parts.length === 0 ? '(empty term: matches no node)' : parts.join(', ');
}

/** The rule as lines a user can read; the requirements are written in label-selector syntax. */
export function describeRule(rule: Rule): string[] {
  if (rule.source === 'annotation') {
    return [`from annotation ${SELECTOR_ANNOTATION}: the node must match ${rule.selector ?? ''}`];
  }
  if (isEmptyRule(rule))
    return ['the pod has no nodeSelector and no required node affinity: nothing to enforce'];
  const lines: string[] = [];
  const selector = Object.entries(rule.nodeSelector);
  if (selector.length > 0) {
    lines.push(`nodeSelector (all of): ${selector.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
  if (rule.nodeSelectorTerms !== undefined) {
    if (rule.nodeSelectorTerms.length === 0) {
      lines.push('required node affinity: no terms (matches no node)');
    } else {
      lines.push(
        `required node affinity (any of ${rule.nodeSelectorTerms.length} term${rule.nodeSelectorTerms.length === 1 ? '' : 's'}):`,
      );
      rule.nodeSelectorTerms.forEach((term, i) => {
        lines.push(`  term ${i + 1}: ${describeTerm(term)}`);
      });
    }
  }
  return lines;
}
