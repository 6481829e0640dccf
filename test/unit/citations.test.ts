/**
 * The repository cites only files it contains: every path named in the README, the docs, the product's sources
 * and comments, the manifests and the scripts resolves to a file here (from the repository's root, the citing file's
 * folder or package, or a top-level folder), and no comment points at a design document or a Dockerfile that is
 * not here. Build outputs (`dist/`) are made by `npm run setup`, not kept.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOP = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules')
  .map((d) => d.name);

function filesUnder(dir: string, suffixes: readonly string[]): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => suffixes.some((s) => f.endsWith(s)) && !f.includes('node_modules') && !f.includes('dist/'))
    .map((f) => join(dir, f));
}

const CITING = [
  'README.md',
  ...filesUnder('docs', ['.md']),
  ...TOP.flatMap((d) => (existsSync(join(ROOT, d, 'README.md')) ? [join(d, 'README.md')] : [])),
  ...['core', 'sidecar', 'webhook', 'certs', 'cli', 'udev', 'testkit', 'infra', 'demo'].flatMap((d) =>
    filesUnder(`${d}/src`, ['.ts']),
  ),
  ...filesUnder('deploy', ['.yaml']),
  ...filesUnder('testkit', ['.sh']),
  ...filesUnder('infra', ['.sh']),
  ...filesUnder('scripts', ['.sh']),
  ...filesUnder('images', ['.sh']),
];

const PATH = /(?<![\w./@$-])((?:[\w.-]+\/)+[\w.-]+\.(?:ts|md|yaml|yml|sh|json|cjs|mjs))\b/g;
const DOCUMENT = /(?<![\w./-])([A-Z][A-Za-z]+\.md)\b|\b(Dockerfile)\b/g;

/** A Helm template names its chart's files from the chart's root, the parent of templates/. */
const chartRoot = (citing: string) =>
  dirname(citing).endsWith('/templates') ? [join(ROOT, dirname(dirname(citing)))] : [];

function resolves(citing: string, path: string): boolean {
  const pkg = citing.split('/')[0] ?? '';
  return [
    ROOT,
    join(ROOT, dirname(citing)),
    ...chartRoot(citing),
    join(ROOT, pkg),
    ...TOP.map((d) => join(ROOT, d)),
  ].some((base) => existsSync(join(base, path)));
}

describe('citations', () => {
  it('reads the files it checks', () => {
    expect(CITING).toContain('docs/architecture.md');
    expect(CITING.length).toBeGreaterThan(60);
  });

  it('names only paths the repository contains', () => {
    const missing = CITING.flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(PATH)]
        .map((m) => m[1] as string)
        .filter((p) => !p.includes('dist/') && !resolves(file, p))
        .map((p) => `${file}: ${p}`),
    );
    expect(missing).toEqual([]);
  });

  it('points at no design document or Dockerfile that is not here', () => {
    const missing = CITING.flatMap((file) =>
      [...readFileSync(join(ROOT, file), 'utf8').matchAll(DOCUMENT)]
        .map((m) => (m[1] ?? m[2]) as string)
        .filter((name) => !resolves(file, name))
        .map((name) => `${relative(ROOT, join(ROOT, file))}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('the README links the design document', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('](docs/architecture.md)');
  });
});
