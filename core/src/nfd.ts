/**
 * The signature of a node-feature-discovery outage, as opposed to an unplugged device.
 *
 * NFD removes *every* label it manages from a node in one update when the node's NodeFeature object goes away
 * — its worker pod was deleted and recreated (an upgrade, a node drain; kubernetes-sigs/node-feature-discovery
 * #1752) or nfd-master restarted on a large cluster (#2408) — and puts them back tens of seconds to minutes
 * later. An unplugged device removes one label and leaves the node's dozens of other NFD labels (cpu, kernel,
 * os_release, pci, ...) in place. So: when the rule names an NFD label and the node carries no NFD label at all,
 * NFD is not reporting for this node, and the mismatch says nothing yet about the device.
 */
import type { V1Node, V1NodeSelectorTerm } from '@kubernetes/client-node';
import type { Rule } from './rule.js';

/**
 * The label namespaces NFD always allows: features and the profiles of NodeFeatureRules, and their
 * sub-namespaces (`vendor.feature.node.kubernetes.io`). Namespaces added with `-extra-label-ns` are not known here.
 */
export const NFD_LABEL_NAMESPACES: readonly string[] = [
  'feature.node.kubernetes.io',
  'profile.node.kubernetes.io',
];

function isNfdLabel(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return false;
  const namespace = key.slice(0, slash);
  return NFD_LABEL_NAMESPACES.some((n) => namespace === n || namespace.endsWith(`.${n}`));
}

const termKeys = (term: V1NodeSelectorTerm): string[] => (term.matchExpressions ?? []).map((r) => r.key);

/** True when the rule depends on at least one label that NFD manages. */
export function dependsOnNfd(rule: Rule): boolean {
  return (
    Object.keys(rule.nodeSelector).some(isNfdLabel) ||
    (rule.nodeSelectorTerms ?? []).some((t) => termKeys(t).some(isNfdLabel))
  );
}

/** True when the rule depends on NFD and the node carries no NFD label at all: NFD is not reporting for it. */
export function nfdOutage(rule: Rule, node: V1Node): boolean {
  if (!dependsOnNfd(rule)) return false;
  return !Object.keys(node.metadata?.labels ?? {}).some(isNfdLabel);
}
