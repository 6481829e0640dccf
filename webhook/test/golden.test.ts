/**
 * Golden fixtures, in the manner of Istio's injector tests: every folder under fixtures/ holds an input (a Pod,
 * or a whole AdmissionReview) and golden.yaml, the expected answer: the response, the JSON patch, the mutated
 * pod and the accounts ensured. UPDATE_GOLDEN=1 rewrites the golden files on purpose (never in CI); a missing or
 * stale one fails with a diff; a file no case uses fails the run. Each case is admitted a second time with its
 * own output, which must need no patch (idempotency).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { ok, STATUS_ANNOTATION } from '@sidecar-destruct/core';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { admit } from '../src/admit.js';
import { parseReview } from '../src/pure/review.js';
import { REASONS } from '../src/pure/should-inject.js';
import { reviewOf, testConfig } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const KNOWN_FILES = new Set(['input.yaml', 'config.yaml', 'golden.yaml']);
const update = process.env.UPDATE_GOLDEN === '1' && process.env.CI !== 'true';
const cases = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

async function run(review: unknown, mode: 'native' | 'container') {
  const parsed = parseReview(review);
  if (!parsed.ok) throw new Error(parsed.error);
  const ensured: string[] = [];
  const admission = await admit(parsed.value, {
    config: testConfig(),
    mode: () => mode,
    ensureAccount: async (namespace, account, create) => {
      ensured.push(`${namespace}/${account}${create ? ' (created)' : ''}`);
      return ok(undefined);
    },
  });
  const { patch, ...response } = admission.review.response;
  const ops: fastJsonPatch.Operation[] = patch
    ? JSON.parse(Buffer.from(patch, 'base64').toString('utf8'))
    : [];
  return { response, patch: ops, ensured, reason: admission.reason };
}

describe('golden fixtures', () => {
  const seen = new Set<string>();

  it.each(cases)('%s', async (name) => {
    const dir = join(FIXTURES, name);
    const strays = readdirSync(dir).filter((f) => !KNOWN_FILES.has(f));
    expect(strays, `files no case uses in ${name}`).toEqual([]);
    const input = parse(readFileSync(join(dir, 'input.yaml'), 'utf8'));
    const config = existsSync(join(dir, 'config.yaml'))
      ? parse(readFileSync(join(dir, 'config.yaml'), 'utf8'))
      : {};
    const mode: 'native' | 'container' = config.mode ?? 'native';
    const review = input.kind === 'AdmissionReview' ? input : reviewOf(input);
    const original = review.request.object as V1Pod;

    const actual = await run(review, mode);
    seen.add(actual.reason);
    const mutated =
      actual.patch.length > 0
        ? fastJsonPatch.applyPatch(structuredClone(original), actual.patch, true, false).newDocument
        : undefined;
    const golden = {
      reason: actual.reason,
      response: actual.response,
      ensuredAccounts: actual.ensured,
      patch: actual.patch,
      mutated,
    };

    const goldenFile = join(dir, 'golden.yaml');
    if (update) writeFileSync(goldenFile, stringify(golden, { lineWidth: 0, aliasDuplicateObjects: false }));
    expect(
      existsSync(goldenFile),
      `${goldenFile} is missing; run UPDATE_GOLDEN=1 npx vitest run webhook`,
    ).toBe(true);
    expect(golden).toEqual(parse(readFileSync(goldenFile, 'utf8')));

    // Idempotent: admitting the result again changes nothing.
    if (mutated && review.request.operation === 'CREATE') {
      const again = await run({ ...review, request: { ...review.request, object: mutated } }, mode);
      expect(again.patch).toEqual([]);
      expect(again.reason).toBe('already-injected');
      // The status annotation short-cuts that second admission; without it, injecting the injected pod once more
      // must still add no second sidecar, volume or env: only the annotation comes back.
      const annotations = { ...(mutated.metadata?.annotations ?? {}) };
      delete annotations[STATUS_ANNOTATION];
      const unmarked = { ...mutated, metadata: { ...mutated.metadata, annotations } };
      const reinjected = await run({ ...review, request: { ...review.request, object: unmarked } }, mode);
      const twice = fastJsonPatch.applyPatch(
        structuredClone(unmarked),
        reinjected.patch,
        true,
        false,
      ).newDocument;
      expect(twice).toEqual(mutated);
    }
  });
  // Runs after the cases above (tests of a file run in order): every reason a review is answered for has a case.
  it('shows every reason a review is answered for', () => {
    const shown = Object.keys(REASONS);
    expect([...seen]).toEqual(expect.arrayContaining(shown));
  });
});
