/**
 * Product functions stay short enough to read and test one at a time: none over 60 lines, as TypeScript's parser
 * counts them (a class written as a closure with inner functions counts whole, which is the point).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRODUCT = ['core/src', 'sidecar/src', 'webhook/src', 'certs/src', 'cli/src', 'udev/src'];
const MAX_LINES = 60;

/** `file:line name (lines)` of every function-like node longer than `max` lines. */
function longFunctions(file: string, max: number): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
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
  it(`has no product function over ${MAX_LINES} lines`, () => {
    const files = PRODUCT.flatMap((dir) =>
      readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(ROOT, dir, f)),
    );
    expect(files.length).toBeGreaterThan(40);
    expect(files.flatMap((f) => longFunctions(f, MAX_LINES))).toEqual([]);
  });

  it('finds a long function when there is one', () => {
    // The counter itself: this very file's describe callback is longer than 10 lines.
    expect(longFunctions(fileURLToPath(import.meta.url), 10).length).toBeGreaterThan(0);
  });
});
