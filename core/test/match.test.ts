import type { V1Node, V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeVerdict, placedFailures } from '../src/explain.js';
import { match } from '../src/match.js';
import type { Rule } from '../src/rule.js';

const node = (labels: Record<string, string>, name = 'node-a'): V1Node => ({
  kind: 'Node',
  metadata: { name, labels },
});
const affinity = (...terms: V1NodeSelectorTerm[]): Rule => ({
  source: 'pod',
  nodeSelector: {},
  nodeSelectorTerms: terms,
});
const expr = (key: string, operator: string, values?: string[]): V1NodeSelectorRequirement =>
  values === undefined ? { key, operator } : { key, operator, values };
const term = (...matchExpressions: V1NodeSelectorRequirement[]): V1NodeSelectorTerm => ({ matchExpressions });

interface Row {
  readonly name: string;
  readonly rule: Rule;
  readonly labels: Record<string, string>;
  readonly nodeName?: string;
  readonly matches: boolean;
  /** A fragment the reason must contain. */
  readonly reason?: string;
}

const rows: Row[] = [
  // nodeSelector
  {
    name: 'nodeSelector: an exact label matches',
    rule: { source: 'pod', nodeSelector: { disk: 'ssd' } },
    labels: { disk: 'ssd' },
    matches: true,
  },
  {
    name: 'nodeSelector: a missing label fails and says so',
    rule: { source: 'pod', nodeSelector: { disk: 'ssd' } },
    labels: {},
    matches: false,
    reason: 'node has no label disk',
  },
  {
    name: 'nodeSelector: another value fails and names it',
    rule: { source: 'pod', nodeSelector: { disk: 'ssd' } },
    labels: { disk: 'hdd' },
    matches: false,
    reason: 'node has disk=hdd',
  },
  {
    name: 'nodeSelector: entries are ANDed',
    rule: { source: 'pod', nodeSelector: { a: '1', b: '2' } },
    labels: { a: '1' },
    matches: false,
    reason: 'b=2',
  },
  {
    name: 'nodeSelector: values compare as strings, case-sensitively',
    rule: { source: 'pod', nodeSelector: { a: 'True' } },
    labels: { a: 'true' },
    matches: false,
  },
  {
    name: 'nodeSelector: the empty value matches only the empty value',
    rule: { source: 'pod', nodeSelector: { a: '' } },
    labels: { a: '' },
    matches: true,
  },
  {
    name: 'nodeSelector: extra node labels do not matter',
    rule: { source: 'pod', nodeSelector: { a: '1' } },
    labels: { a: '1', b: '2' },
    matches: true,
  },
  {
    name: 'nodeSelector: inherited object keys are not labels',
    rule: { source: 'pod', nodeSelector: { constructor: 'x' } },
    labels: {},
    matches: false,
  },
  {
    name: 'no constraints: nothing to enforce, every node matches',
    rule: { source: 'pod', nodeSelector: {} },
    labels: {},
    matches: true,
    reason: 'nothing to enforce',
  },

  // In / NotIn
  {
    name: 'In: a listed value matches',
    rule: affinity(term(expr('arch', 'In', ['arm64', 'amd64']))),
    labels: { arch: 'amd64' },
    matches: true,
  },
  {
    name: 'In: an unlisted value fails',
    rule: affinity(term(expr('arch', 'In', ['arm64']))),
    labels: { arch: 'amd64' },
    matches: false,
    reason: 'node has arch=amd64, not "arm64"',
  },
  {
    name: 'In: a missing key fails',
    rule: affinity(term(expr('arch', 'In', ['arm64']))),
    labels: {},
    matches: false,
    reason: 'node has no label arch',
  },
  {
    name: 'NotIn: an unlisted value matches',
    rule: affinity(term(expr('zone', 'NotIn', ['a', 'b']))),
    labels: { zone: 'c' },
    matches: true,
  },
  {
    name: 'NotIn: a listed value fails',
    rule: affinity(term(expr('zone', 'NotIn', ['a', 'b']))),
    labels: { zone: 'b' },
    matches: false,
    reason: 'node has zone=b',
  },
  {
    name: 'NotIn: a missing key matches',
    rule: affinity(term(expr('zone', 'NotIn', ['a']))),
    labels: {},
    matches: true,
  },

  // Exists / DoesNotExist
  {
    name: 'Exists: any value matches, even empty',
    rule: affinity(term(expr('usb', 'Exists'))),
    labels: { usb: '' },
    matches: true,
  },
  {
    name: 'Exists: a missing key fails',
    rule: affinity(term(expr('usb', 'Exists'))),
    labels: {},
    matches: false,
    reason: 'node has no label usb',
  },
  {
    name: 'DoesNotExist: a missing key matches',
    rule: affinity(term(expr('taint', 'DoesNotExist'))),
    labels: {},
    matches: true,
  },
  {
    name: 'DoesNotExist: a present key fails and names its value',
    rule: affinity(term(expr('taint', 'DoesNotExist'))),
    labels: { taint: 'yes' },
    matches: false,
    reason: 'node has taint=yes',
  },

  // Gt / Lt
  {
    name: 'Gt: a greater integer matches',
    rule: affinity(term(expr('cores', 'Gt', ['4']))),
    labels: { cores: '8' },
    matches: true,
  },
  {
    name: 'Gt: an equal integer fails',
    rule: affinity(term(expr('cores', 'Gt', ['4']))),
    labels: { cores: '4' },
    matches: false,
    reason: 'not greater than 4',
  },
  {
    name: 'Gt: negative numbers compare as integers',
    rule: affinity(term(expr('t', 'Gt', ['-10']))),
    labels: { t: '-9' },
    matches: true,
  },
  {
    name: 'Gt: comparison is numeric, not lexical',
    rule: affinity(term(expr('n', 'Gt', ['9']))),
    labels: { n: '10' },
    matches: true,
  },
  {
    name: 'Gt: a leading + and zeros parse as in Go',
    rule: affinity(term(expr('n', 'Gt', ['+007']))),
    labels: { n: '08' },
    matches: true,
  },
  {
    name: 'Gt: a non-integer node value fails',
    rule: affinity(term(expr('cores', 'Gt', ['4']))),
    labels: { cores: '8.5' },
    matches: false,
    reason: 'not an integer',
  },
  {
    name: 'Gt: a hexadecimal node value is not an integer',
    rule: affinity(term(expr('n', 'Gt', ['1']))),
    labels: { n: '0x10' },
    matches: false,
  },
  {
    name: 'Gt: a value beyond int64 is not an integer',
    rule: affinity(term(expr('n', 'Gt', ['1']))),
    labels: { n: '9223372036854775808' },
    matches: false,
  },
  {
    name: 'Gt: int64 max still compares exactly',
    rule: affinity(term(expr('n', 'Gt', ['9223372036854775806']))),
    labels: { n: '9223372036854775807' },
    matches: true,
  },
  {
    name: 'Gt: a missing key fails',
    rule: affinity(term(expr('cores', 'Gt', ['4']))),
    labels: {},
    matches: false,
    reason: 'no label cores',
  },
  {
    name: 'Lt: a smaller integer matches',
    rule: affinity(term(expr('gen', 'Lt', ['5']))),
    labels: { gen: '4' },
    matches: true,
  },
  {
    name: 'Lt: a negative limit',
    rule: affinity(term(expr('t', 'Lt', ['-1']))),
    labels: { t: '0' },
    matches: false,
    reason: 'not less than -1',
  },
  {
    name: 'Lt: an empty node value is not an integer',
    rule: affinity(term(expr('gen', 'Lt', ['5']))),
    labels: { gen: '' },
    matches: false,
  },

  // terms and expressions
  {
    name: 'terms are ORed: the second term can match',
    rule: affinity(term(expr('a', 'Exists')), term(expr('b', 'Exists'))),
    labels: { b: '1' },
    matches: true,
    reason: 'term 2',
  },
  {
    name: 'terms are ORed: when none matches each is reported',
    rule: affinity(term(expr('a', 'Exists')), term(expr('b', 'Exists'))),
    labels: {},
    matches: false,
    reason: 'term 2: b: node has no label b',
  },
  {
    name: 'expressions within a term are ANDed',
    rule: affinity(term(expr('a', 'Exists'), expr('b', 'Exists'))),
    labels: { a: '1' },
    matches: false,
  },
  {
    name: 'an empty term matches nothing',
    rule: affinity({}),
    labels: { a: '1' },
    matches: false,
    reason: 'empty term',
  },
  {
    name: 'a term with empty lists is empty',
    rule: affinity({ matchExpressions: [], matchFields: [] }),
    labels: {},
    matches: false,
  },
  {
    name: 'an empty term does not stop another from matching',
    rule: affinity({}, term(expr('a', 'Exists'))),
    labels: { a: '1' },
    matches: true,
  },
  {
    name: 'no terms at all matches nothing',
    rule: affinity(),
    labels: { a: '1' },
    matches: false,
    reason: 'no terms',
  },
  {
    name: 'nodeSelector AND affinity: both must hold (selector fails)',
    rule: {
      source: 'pod',
      nodeSelector: { usb: 'true' },
      nodeSelectorTerms: [term(expr('arch', 'In', ['arm64']))],
    },
    labels: { arch: 'arm64' },
    matches: false,
    reason: 'nodeSelector usb=true',
  },
  {
    name: 'nodeSelector AND affinity: both must hold (affinity fails)',
    rule: {
      source: 'pod',
      nodeSelector: { usb: 'true' },
      nodeSelectorTerms: [term(expr('arch', 'In', ['arm64']))],
    },
    labels: { usb: 'true', arch: 'amd64' },
    matches: false,
    reason: 'no required node affinity term matches',
  },
  {
    name: 'nodeSelector AND affinity: both hold',
    rule: {
      source: 'pod',
      nodeSelector: { usb: 'true' },
      nodeSelectorTerms: [term(expr('arch', 'In', ['arm64']))],
    },
    labels: { usb: 'true', arch: 'arm64' },
    matches: true,
  },

  // matchFields
  {
    name: 'matchFields: metadata.name In matches the node name',
    rule: affinity({ matchFields: [expr('metadata.name', 'In', ['node-a'])] }),
    labels: {},
    matches: true,
  },
  {
    name: 'matchFields: metadata.name In fails for another node',
    rule: affinity({ matchFields: [expr('metadata.name', 'In', ['node-b'])] }),
    labels: {},
    matches: false,
    reason: `metadata.name is "node-a"`,
  },
  {
    name: 'matchFields: metadata.name NotIn',
    rule: affinity({ matchFields: [expr('metadata.name', 'NotIn', ['node-a'])] }),
    labels: {},
    matches: false,
  },
  {
    name: 'matchFields ANDed with matchExpressions',
    rule: affinity({
      matchExpressions: [expr('a', 'Exists')],
      matchFields: [expr('metadata.name', 'In', ['node-a'])],
    }),
    labels: {},
    matches: false,
  },
  {
    name: 'matchFields: more than one value is invalid, so the term matches nothing',
    rule: affinity({ matchFields: [expr('metadata.name', 'In', ['node-a', 'node-b'])] }),
    labels: {},
    matches: false,
    reason: 'invalid requirement',
  },
  {
    name: 'matchFields: Exists is not a field operator',
    rule: affinity({ matchFields: [expr('metadata.name', 'Exists')] }),
    labels: {},
    matches: false,
    reason: 'invalid requirement',
  },
  {
    name: 'matchFields: an unknown field reads as empty',
    rule: affinity({ matchFields: [expr('spec.unschedulable', 'In', ['true'])] }),
    labels: {},
    matches: false,
  },
  {
    name: 'matchFields: skipped for a node without a name',
    rule: affinity({ matchFields: [expr('metadata.name', 'In', ['node-b'])] }),
    labels: {},
    nodeName: '',
    matches: true,
  },

  // requirements the scheduler cannot parse
  {
    name: 'invalid: a non-integer Gt value makes the term match nothing',
    rule: affinity(term(expr('n', 'Gt', ['four']))),
    labels: { n: '5' },
    matches: false,
    reason: 'needs an integer',
  },
  {
    name: 'invalid: Gt with two values',
    rule: affinity(term(expr('n', 'Gt', ['1', '2']))),
    labels: { n: '5' },
    matches: false,
    reason: 'exactly one value',
  },
  {
    name: 'invalid: In without values',
    rule: affinity(term(expr('a', 'In', []))),
    labels: { a: '' },
    matches: false,
    reason: 'at least one value',
  },
  {
    name: 'invalid: Exists with values',
    rule: affinity(term(expr('a', 'Exists', ['x']))),
    labels: { a: 'x' },
    matches: false,
    reason: 'takes no values',
  },
  {
    name: 'invalid: an unknown operator',
    rule: affinity(term(expr('a', 'Equals', ['x']))),
    labels: { a: 'x' },
    matches: false,
    reason: 'unknown operator',
  },
  {
    name: 'invalid: a malformed key',
    rule: affinity(term(expr('bad key', 'Exists'))),
    labels: { 'bad key': 'x' },
    matches: false,
    reason: 'invalid key',
  },
  {
    name: 'invalid: a malformed value',
    rule: affinity(term(expr('a', 'In', ['not valid!']))),
    labels: { a: 'not valid!' },
    matches: false,
    reason: 'invalid value',
  },
  {
    name: 'invalid: another valid term still matches',
    rule: affinity(term(expr('n', 'Gt', ['four'])), term(expr('a', 'Exists'))),
    labels: { a: '1' },
    matches: true,
  },

  // selector annotation
  {
    name: 'selector annotation: reported as the selector',
    rule: {
      source: 'annotation',
      selector: 'usb',
      nodeSelector: {},
      nodeSelectorTerms: [term(expr('usb', 'Exists'))],
    },
    labels: {},
    matches: false,
    reason: 'selector usb: node has no label usb',
  },
];

describe('match follows the scheduler semantics', () => {
  it.each(rows)('$name', ({ rule, labels, nodeName, matches, reason }) => {
    const subject = node(labels, nodeName);
    const verdict = match(rule, subject);
    expect(verdict.matches).toBe(matches);
    if (reason !== undefined)
      expect(describeVerdict(rule, subject.metadata?.name ?? '', verdict)).toContain(reason);
    if (!verdict.matches) expect(placedFailures(rule, verdict).length).toBeGreaterThan(0);
  });

  it('names the node value of each failed requirement', () => {
    const verdict = match(
      affinity(term(expr('arch', 'In', ['arm64']), expr('usb', 'Exists'))),
      node({ arch: 'amd64' }),
    );
    expect(verdict).toMatchObject({
      matches: false,
      selector: [],
      terms: {
        kind: 'failed',
        perTerm: [
          [
            { requirement: 'arch=arm64', nodeValue: 'amd64' },
            { requirement: 'usb', why: 'node has no label usb' },
          ],
        ],
      },
    });
  });

  it('treats a node without labels as having none', () => {
    expect(match({ source: 'pod', nodeSelector: { a: '1' } }, { metadata: { name: 'x' } }).matches).toBe(
      false,
    );
    expect(match(affinity(term(expr('a', 'DoesNotExist'))), {}).matches).toBe(true);
  });
});
