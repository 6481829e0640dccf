/**
 * Matching a rule against a Node with the scheduler's semantics (component-helpers `nodeaffinity`,
 * apimachinery `labels.Requirement.Matches`), returning what failed and where (explain.ts words it):
 * - nodeSelector entries are ANDed, and ANDed with the required node affinity;
 * - nodeSelectorTerms are ORed; an empty term, or an empty list of terms, matches nothing;
 * - within a term, matchExpressions and matchFields are ANDed;
 * - In, NotIn (a missing key satisfies NotIn), Exists, DoesNotExist (a missing key satisfies it), Gt, Lt (both
 *   sides must be base-10 int64s, negative ones included, else no match);
 * - matchFields support metadata.name with In/NotIn and exactly one value; they are skipped for a nameless node;
 * - a requirement the scheduler cannot parse (unknown operator, bad key or value, wrong number of values, a
 *   non-integer Gt/Lt value) makes its whole term match nothing, while other terms may still match.
 */
import type { V1Node, V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node';
import { labelKeyProblem, labelValueProblem, parseInt64 } from './labels.js';
import type { Rule } from './rule.js';
import { formatRequirement } from './selector.js';

/** One requirement the node fails. */
export interface Unmet {
  /** The requirement in label-selector syntax (`field ` before a matchFields requirement). */
  readonly requirement: string;
  /** The node's value for the requirement's key; absent when the node has no such label. */
  readonly nodeValue?: string;
  /** Why it failed, naming the node's value. */
  readonly why: string;
}

/** How the required node affinity (or the selector annotation's one term) fared. */
export type TermsVerdict =
  /** The rule has no required node affinity. */
  | { readonly kind: 'none' }
  /** Term `index` (0-based) matches; the terms are ORed. */
  | { readonly kind: 'matched'; readonly index: number }
  /** The list of terms is empty, which matches no node. */
  | { readonly kind: 'no-terms' }
  /** No term matches: each term's failures, in order. */
  | { readonly kind: 'failed'; readonly perTerm: ReadonlyArray<readonly Unmet[]> };

/** The verdict as data: what failed, where. `explain.ts` turns it into sentences. */
export interface Verdict {
  readonly matches: boolean;
  /** The nodeSelector entries the node fails (all must hold). */
  readonly selector: readonly Unmet[];
  readonly terms: TermsVerdict;
}

type Labels = Readonly<Record<string, string>>;
type Check =
  | { readonly ok: true }
  | { readonly ok: false; readonly why: string; readonly nodeValue?: string };
const PASS: Check = { ok: true };

const lookup = (labels: Labels, key: string): string | undefined =>
  Object.hasOwn(labels, key) ? labels[key] : undefined;
const oneOf = (values: readonly string[]): string =>
  values.length === 1 ? `"${values[0]}"` : `one of (${values.map((v) => `"${v}"`).join(', ')})`;

/** Why the scheduler would refuse to parse this label requirement (labels.NewRequirement), if it would. */
function labelRequirementProblem(r: V1NodeSelectorRequirement): string | undefined {
  const values = r.values ?? [];
  const keyProblem = labelKeyProblem(r.key);
  if (keyProblem) return `invalid key "${r.key}": ${keyProblem}`;
  switch (r.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) return `${r.operator} needs at least one value`;
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) return `${r.operator} takes no values`;
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) return `${r.operator} needs exactly one value`;
      if (parseInt64(values[0] ?? '') === undefined)
        return `${r.operator} needs an integer, found "${values[0]}"`;
      break;
    default:
      return `unknown operator "${r.operator}" (expected In, NotIn, Exists, DoesNotExist, Gt or Lt)`;
  }
  // Upstream also checks Gt/Lt values as label values, which would refuse "-1"; the API documents them as
  // integers, and negative limits are compared as such here.
  if (r.operator === 'Gt' || r.operator === 'Lt') return undefined;
  for (const value of values) {
    const valueProblem = labelValueProblem(value);
    if (valueProblem) return `invalid value "${value}": ${valueProblem}`;
  }
  return undefined;
}

function fieldRequirementProblem(r: V1NodeSelectorRequirement): string | undefined {
  if (r.operator !== 'In' && r.operator !== 'NotIn') {
    return `unknown operator "${r.operator}" for a field (expected In or NotIn)`;
  }
  if ((r.values ?? []).length !== 1) return `${r.operator} on a field needs exactly one value`;
  return undefined;
}

/** A parsed (valid) label requirement against the node's labels. */
function checkLabel(r: V1NodeSelectorRequirement, labels: Labels): Check {
  const values = r.values ?? [];
  const value = lookup(labels, r.key);
  const missing: Check = { ok: false, why: `node has no label ${r.key}` };
  const has = value === undefined ? '' : `node has ${r.key}=${value}`;
  switch (r.operator) {
    case 'In':
      if (value === undefined) return missing;
      return values.includes(value)
        ? PASS
        : { ok: false, nodeValue: value, why: `${has}, not ${oneOf(values)}` };
    case 'NotIn':
      return value === undefined || !values.includes(value)
        ? PASS
        : { ok: false, nodeValue: value, why: has };
    case 'Exists':
      return value === undefined ? missing : PASS;
    case 'DoesNotExist':
      return value === undefined ? PASS : { ok: false, nodeValue: value, why: has };
    default: {
      // Gt / Lt: both sides are int64 (the requirement was checked by labelRequirementProblem).
      if (value === undefined) return missing;
      const nodeInt = parseInt64(value);
      if (nodeInt === undefined)
        return { ok: false, nodeValue: value, why: `${has}, which is not an integer` };
      const limit = parseInt64(values[0] ?? '') ?? 0n;
      const greater = r.operator === 'Gt';
      if (greater ? nodeInt > limit : nodeInt < limit) return PASS;
      return {
        ok: false,
        nodeValue: value,
        why: `${has}, not ${greater ? 'greater' : 'less'} than ${limit}`,
      };
    }
  }
}

/** Node fields as the scheduler sees them: only metadata.name; any other field reads as "". */
function checkField(r: V1NodeSelectorRequirement, nodeName: string): Check {
  const fieldValue = r.key === 'metadata.name' ? nodeName : '';
  const wanted = r.values?.[0] ?? '';
  const equal = fieldValue === wanted;
  if (r.operator === 'In' ? equal : !equal) return PASS;
  return { ok: false, nodeValue: fieldValue, why: `node's ${r.key} is "${fieldValue}"` };
}

/** The failures of one term against the node; an empty list means the term matches. */
function termFailures(term: V1NodeSelectorTerm, labels: Labels, nodeName: string): Unmet[] {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) {
    return [{ requirement: '(empty term)', why: 'an empty term matches no node' }];
  }
  const invalid: Unmet[] = [
    ...expressions.map((r) => [r, labelRequirementProblem(r)] as const),
    ...fields.map((r) => [r, fieldRequirementProblem(r)] as const),
  ].flatMap(([r, problem]) =>
    problem === undefined
      ? []
      : [
          {
            requirement: formatRequirement(r),
            why: `invalid requirement, so the term matches no node: ${problem}`,
          },
        ],
  );
  if (invalid.length > 0) return invalid;

  const failures: Unmet[] = [];
  const add = (r: V1NodeSelectorRequirement, check: Check, prefix = ''): void => {
    if (check.ok) return;
    const requirement = prefix + formatRequirement(r);
    failures.push(
      check.nodeValue === undefined
        ? { requirement, why: check.why }
        : { requirement, why: check.why, nodeValue: check.nodeValue },
    );
  };
  for (const r of expressions) add(r, checkLabel(r, labels));
  if (nodeName.length > 0) for (const r of fields) add(r, checkField(r, nodeName), 'field ');
  return failures;
}

/** Does the node satisfy the rule: every failed requirement, grouped by nodeSelector and by term. */
export function match(rule: Rule, node: V1Node): Verdict {
  const labels: Labels = node.metadata?.labels ?? {};
  const nodeName = node.metadata?.name ?? '';
  const selector: Unmet[] = Object.entries(rule.nodeSelector).flatMap(([key, wanted]): Unmet[] => {
    const value = lookup(labels, key);
    const requirement = `${key}=${wanted}`;
    if (value === wanted) return [];
    return value === undefined
      ? [{ requirement, why: `node has no label ${key}` }]
      : [{ requirement, nodeValue: value, why: `node has ${key}=${value}` }];
  });
  const terms = termsVerdict(rule.nodeSelectorTerms, labels, nodeName);
  return {
    matches: selector.length === 0 && (terms.kind === 'none' || terms.kind === 'matched'),
    selector,
    terms,
  };
}

function termsVerdict(
  terms: readonly V1NodeSelectorTerm[] | undefined,
  labels: Labels,
  nodeName: string,
): TermsVerdict {
  if (terms === undefined) return { kind: 'none' };
  if (terms.length === 0) return { kind: 'no-terms' };
  const perTerm = terms.map((term) => termFailures(term, labels, nodeName));
  const index = perTerm.findIndex((f) => f.length === 0);
  return index >= 0 ? { kind: 'matched', index } : { kind: 'failed', perTerm };
}
