/**
 * Turns untrusted input (a file, a request body) into a typed Pod or Node, checking the type of every field
 * the rule core reads. An error names the field, as kubectl would.
 */
import type { V1Node, V1NodeSelectorRequirement, V1NodeSelectorTerm, V1Pod } from '@kubernetes/client-node';
import { err, ok, type Result } from './result.js';
import type { Rule } from './rule.js';

class ShapeError extends Error {}

/** A JSON object: not null, not an array. */
export const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** null and undefined are both "absent", as in Kubernetes JSON. */
function field(obj: Record<string, unknown>, name: string): unknown {
  const value = Object.hasOwn(obj, name) ? obj[name] : undefined;
  return value === null ? undefined : value;
}

function object(x: unknown, path: string): Record<string, unknown> | undefined {
  if (x === undefined) return undefined;
  if (!isObject(x)) throw new ShapeError(`${path} must be an object`);
  return x;
}

function string(x: unknown, path: string): string | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'string') throw new ShapeError(`${path} must be a string, found ${JSON.stringify(x)}`);
  return x;
}

function stringMap(x: unknown, path: string): Record<string, string> | undefined {
  const obj = object(x, path);
  if (!obj) return undefined;
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value !== 'string') {
      throw new ShapeError(`${path}["${key}"] must be a string (quote it: "${String(value)}")`);
    }
  }
  return obj as Record<string, string>;
}

function array(x: unknown, path: string): unknown[] | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) throw new ShapeError(`${path} must be a list`);
  return x;
}

function requirement(x: unknown, path: string): V1NodeSelectorRequirement {
  const obj = object(x, path) ?? {};
  const key = string(field(obj, 'key'), `${path}.key`);
  const operator = string(field(obj, 'operator'), `${path}.operator`);
  if (key === undefined) throw new ShapeError(`${path}.key is required`);
  if (operator === undefined) throw new ShapeError(`${path}.operator is required`);
  const values = array(field(obj, 'values'), `${path}.values`)?.map(
    (v, i) => string(v, `${path}.values[${i}]`) ?? '',
  );
  return values === undefined ? { key, operator } : { key, operator, values };
}

function term(x: unknown, path: string): V1NodeSelectorTerm {
  const obj = object(x, path) ?? {};
  const out: V1NodeSelectorTerm = {};
  const expressions = array(field(obj, 'matchExpressions'), `${path}.matchExpressions`);
  if (expressions)
    out.matchExpressions = expressions.map((r, i) => requirement(r, `${path}.matchExpressions[${i}]`));
  const fields = array(field(obj, 'matchFields'), `${path}.matchFields`);
  if (fields) out.matchFields = fields.map((r, i) => requirement(r, `${path}.matchFields[${i}]`));
  return out;
}

function nodeSelectorTerms(x: unknown, path: string): V1NodeSelectorTerm[] | undefined {
  return array(x, path)?.map((t, i) => term(t, `${path}[${i}]`));
}

function kindOf(x: unknown, kind: string): Record<string, unknown> {
  if (!isObject(x)) throw new ShapeError(`not a ${kind}: the document is not an object`);
  const found = field(x, 'kind');
  const apiVersion = field(x, 'apiVersion');
  if (found !== kind) throw new ShapeError(`not a ${kind}: kind is ${JSON.stringify(found ?? null)}`);
  if (apiVersion !== undefined && apiVersion !== 'v1') {
    throw new ShapeError(`not a ${kind}: apiVersion is ${JSON.stringify(apiVersion)}, expected "v1"`);
  }
  return x;
}

function metadata(x: Record<string, unknown>): void {
  const meta = object(field(x, 'metadata'), 'metadata');
  if (!meta) return;
  string(field(meta, 'name'), 'metadata.name');
  string(field(meta, 'namespace'), 'metadata.namespace');
  stringMap(field(meta, 'labels'), 'metadata.labels');
  stringMap(field(meta, 'annotations'), 'metadata.annotations');
}

function capture<T>(parse: () => T): Result<T> {
  try {
    return ok(parse());
  } catch (e) {
    if (e instanceof ShapeError) return err(e.message);
    throw e;
  }
}

/** The document as a Pod whose scheduling constraints and annotations are well-typed. */
export function parsePod(x: unknown): Result<V1Pod> {
  return capture(() => {
    const pod = kindOf(x, 'Pod');
    metadata(pod);
    const spec = object(field(pod, 'spec'), 'spec');
    if (spec) {
      stringMap(field(spec, 'nodeSelector'), 'spec.nodeSelector');
      string(field(spec, 'nodeName'), 'spec.nodeName');
      const affinity = object(field(spec, 'affinity'), 'spec.affinity');
      const nodeAffinity = affinity && object(field(affinity, 'nodeAffinity'), 'spec.affinity.nodeAffinity');
      const path = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution';
      const required =
        nodeAffinity && object(field(nodeAffinity, 'requiredDuringSchedulingIgnoredDuringExecution'), path);
      if (required) nodeSelectorTerms(field(required, 'nodeSelectorTerms'), `${path}.nodeSelectorTerms`);
    }
    return pod as V1Pod;
  });
}

/** The document as a Node whose name and labels are well-typed. */
export function parseNode(x: unknown): Result<V1Node> {
  return capture(() => {
    const node = kindOf(x, 'Node');
    metadata(node);
    return node as V1Node;
  });
}

/** A rule as the webhook serialised it (see env.ts). */
export function parseRule(x: unknown): Result<Rule> {
  return capture(() => {
    const obj = object(x, 'rule');
    if (!obj) throw new ShapeError('rule must be an object');
    const source = field(obj, 'source');
    if (source !== 'pod' && source !== 'annotation')
      throw new ShapeError('rule.source must be "pod" or "annotation"');
    const nodeSelector = stringMap(field(obj, 'nodeSelector'), 'rule.nodeSelector') ?? {};
    const terms = nodeSelectorTerms(field(obj, 'nodeSelectorTerms'), 'rule.nodeSelectorTerms');
    const selector = string(field(obj, 'selector'), 'rule.selector');
    return {
      source,
      nodeSelector,
      ...(terms === undefined ? {} : { nodeSelectorTerms: terms }),
      ...(selector === undefined ? {} : { selector }),
    };
  });
}
