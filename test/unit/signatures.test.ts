/**
 * The functions the docs show with their parameters (`next(state, observation, now, policy)`) take exactly those
 * parameters in the code: a changed signature fails here until the docs say it too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { filesOf, packages, ROOT } from './packages.js';

const DOCS = ['docs/architecture.md', 'README.md'];
const SHOWN = /`([a-zA-Z_]\w*)\(([\w, ]*)\)[^`]*`/g;

/** Every exported function of the product and kits, by name: its parameter names. */
function exportedFunctions(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of packages()
    .flatMap((p) => filesOf(p.dir, ['.ts']))
    .filter((f) => !f.includes('/test/'))) {
    const source = ts.createSourceFile(
      file,
      readFileSync(join(ROOT, file), 'utf8'),
      ts.ScriptTarget.Latest,
      true,
    );
    for (const node of source.statements) {
      const exported =
        ts.canHaveModifiers(node) &&
        ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (exported && ts.isFunctionDeclaration(node) && node.name)
        out.set(
          node.name.text,
          node.parameters.map((p) => p.name.getText(source)),
        );
    }
  }
  return out;
}

/** `name(a, b)` as the docs write it, with the file it is in. */
function shownSignatures(): { doc: string; name: string; params: string[] }[] {
  return DOCS.flatMap((doc) =>
    [...readFileSync(join(ROOT, doc), 'utf8').matchAll(SHOWN)].map((m) => ({
      doc,
      name: m[1] as string,
      params: (m[2] as string)
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    })),
  );
}

describe('signatures the docs show', () => {
  it('match the code, parameter for parameter', () => {
    const code = exportedFunctions();
    const checked = shownSignatures().filter((s) => s.params.length > 0);
    expect(checked.map((s) => s.name)).toContain('next');
    // A name the docs show with parameters is an exported function: a rename fails here, never passes unseen.
    expect(checked.filter((s) => !code.has(s.name)).map((s) => `${s.doc}: ${s.name}`)).toEqual([]);
    for (const s of checked) expect(s.params, `${s.doc}: ${s.name}`).toEqual(code.get(s.name));
  });
});
