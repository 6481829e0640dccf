/**
 * Functions stay short enough to read and test one at a time: none over 60 lines, as TypeScript's parser counts
 * them (a class written as a closure with inner functions counts whole, which is the point). The rule holds for
 * every package alike, product, kits, benchmarks and tests; in a test file the callbacks given to
 * describe/it/beforeAll… are the suite itself and are exempt, its named helpers are not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { filesOf, packages } from './packages.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LINES = 60;
const SUITE_CALL = /^(describe|it|test|beforeAll|afterAll|beforeEach|afterEach)\b/;

/** A callback handed to describe/it/…, e.g. `it('…', async () => {…})` or `it.each(rows)('…', (row) => {…})`. */
const isSuiteCallback = (node: ts.Node, source: ts.SourceFile): boolean =>
  (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) &&
  ts.isCallExpression(node.parent) &&
  SUITE_CALL.test(node.parent.expression.getText(source));

/** `file:line name (lines)` of every function-like node longer than `max` lines. */
function longFunctions(file: string, max: number, suites = false): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isFunctionLike(node) &&
      'body' in node &&
      node.body &&
      !(suites && isSuiteCallback(node, source))
    ) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      if (last - first + 1 > max) {
        const name = node.name?.getText(source) ?? '(anonymous)';
        found.push(`${file.slice(ROOT.length)}:${first + 1} ${name} (${last - first + 1})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('shape', () => {
  it.each(packages().map((p) => p.dir))(`%s has no function over ${MAX_LINES} lines`, (dir) => {
    const files = filesOf(dir, ['.ts']).map((f) => join(ROOT, f));
    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((f) => longFunctions(f, MAX_LINES, /\.test\.ts$/.test(f)))).toEqual([]);
  });

  it('finds a long function when there is one', () => {
    // The counter itself: this very file's describe callback is longer than 10 lines.
    expect(longFunctions(fileURLToPath(import.meta.url), 10).length).toBeGreaterThan(0);
  });

  it("exempts a test's suite callbacks, never its named helpers", () => {
    const file = fileURLToPath(import.meta.url);
    const kept = longFunctions(file, 3, true);
    expect(kept.length).toBeLessThan(longFunctions(file, 3).length);
    expect(kept.some((f) => / longFunctions /.test(f))).toBe(true);
  });
});
