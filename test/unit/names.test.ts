/**
 * The contract's names are spelled once, in core/src/names.ts; the manifests in deploy/ are YAML and
 * cannot import them, so this test holds them to the same spelling: a policy that checks a container name, a
 * binding rule that names a role, a selector that names the opt-in label.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as names from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const BASE = fileURLToPath(new URL('../../deploy/base/', import.meta.url));
const files = readdirSync(BASE).filter((f) => f.endsWith('.yaml'));
const text = files.map((f) => readFileSync(`${BASE}${f}`, 'utf8')).join('\n');
type Doc = { kind?: string; metadata?: { name?: string }; [k: string]: unknown };
const docs: Doc[] = files.flatMap((f) =>
  parseAllDocuments(readFileSync(`${BASE}${f}`, 'utf8')).map((d) => d.toJSON() as Doc),
);
const all = (pattern: RegExp): string[] => [...text.matchAll(pattern)].map((m) => m[1] ?? '');

/** Every label and annotation of the contract. */
const CONTRACT_KEYS = new Set(
  (Object.values(names) as unknown[]).filter(
    (v): v is string => typeof v === 'string' && v.startsWith('sidecar-destruct.io/'),
  ),
);

describe('deploy/ spells the contract as the code does', () => {
  it('uses only labels and annotations that the code defines', () => {
    const used = new Set(all(/(sidecar-destruct\.io\/[a-z0-9-]+)/g));
    expect(used.size).toBeGreaterThan(0);
    for (const key of used) expect(CONTRACT_KEYS, `${key} in deploy/base`).toContain(key);
  });

  it('defines the sidecar roles under the names the webhook binds', () => {
    const clusterRoles = docs.filter((d) => d.kind === 'ClusterRole').map((d) => d.metadata?.name);
    expect(clusterRoles).toEqual(
      expect.arrayContaining([names.SIDECAR_CLUSTER_ROLE, names.NODE_READER_CLUSTER_ROLE]),
    );
    const referenced = all(/roleRef\.name == "([^"]+)"/g);
    expect(referenced.length).toBeGreaterThan(0);
    for (const role of referenced) {
      expect([names.SIDECAR_CLUSTER_ROLE, names.NODE_READER_CLUSTER_ROLE], role).toContain(role);
    }
  });

  it('checks for the sidecar container and the dedicated account by their names', () => {
    const containers = all(/\bc\.name == "([^"]+)"/g);
    expect(containers.length).toBeGreaterThan(0);
    for (const name of containers) expect(name).toBe(names.SIDECAR_CONTAINER);
    const accounts = all(/object\.metadata\.name == "([^"]+)"/g);
    expect(accounts.length).toBeGreaterThan(0);
    for (const name of accounts) expect(name).toBe(names.SIDECAR_ACCOUNT);
  });

  it('selects pods for the webhook by the opt-in labels', () => {
    const webhooks = docs
      .filter((d) => d.kind === 'MutatingWebhookConfiguration')
      .flatMap(
        (d) => (d.webhooks as Array<Record<string, { matchExpressions?: Array<{ key: string }> }>>) ?? [],
      );
    expect(webhooks.length).toBeGreaterThan(0);
    const keys = webhooks.flatMap((w) =>
      [w.namespaceSelector, w.objectSelector].flatMap((s) => (s?.matchExpressions ?? []).map((e) => e.key)),
    );
    expect(keys).toEqual(expect.arrayContaining([names.NAMESPACE_INJECTION_LABEL, names.POD_INJECT_LABEL]));
  });
});
