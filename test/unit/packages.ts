/**
 * The project's packages as their files use them: what each one imports (sources and tests), and which other
 * package's files it starts by path (`cli/dist/main.js`, `images/build.sh`), read from TypeScript string literals
 * and the non-comment lines of its shell scripts. layout.test.ts compares this with each package.json.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Package {
  /** Its folder under the root, e.g. `webhook`. */
  readonly dir: string;
  readonly name: string;
  readonly dependencies: ReadonlySet<string>;
  readonly devDependencies: ReadonlySet<string>;
  /** Tools its own npm scripts run (`esbuild`), which no import names. */
  readonly scripts: string;
}

const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

/** The root's workspaces (bench/ among them: the benchmarks are a package of their own, run from the root). */
export function packages(): Package[] {
  const workspaces = readJson('package.json').workspaces as string[];
  return workspaces.map((dir) => {
    const json = readJson(`${dir}/package.json`) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      scripts?: Record<string, string>;
    };
    return {
      dir,
      name: json.name,
      dependencies: new Set(Object.keys(json.dependencies ?? {})),
      devDependencies: new Set(Object.keys(json.devDependencies ?? {})),
      scripts: Object.values(json.scripts ?? {}).join('\n'),
    };
  });
}

/** What every package may use without declaring it: Node's own modules and the root's tools (vitest, typescript). */
export const ROOT_TOOLS: ReadonlySet<string> = new Set([
  ...Object.keys((readJson('package.json').devDependencies as Record<string, string>) ?? {}),
]);

/** Every file of a folder, recursively, without dependencies and build output. */
export function filesOf(dir: string, extensions: readonly string[]): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => extensions.some((e) => f.endsWith(e)))
    .filter((f) => !/(^|\/)(node_modules|dist)\//.test(f))
    .map((f) => join(dir, f));
}

/** A TypeScript file, parsed. */
const parsed = (file: string): ts.SourceFile =>
  ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);

/** The string literals of a TypeScript file (template pieces included), comments left out. */
function literals(file: string): string[] {
  const source = parsed(file);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The package (or `npm` package) a bare import specifier names; undefined for relative and `node:` ones. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier))
    return;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export interface Import {
  readonly specifier: string;
  /** `import type`, `export type` or `import('…')` in a type: erased, needed only to build. */
  readonly typeOnly: boolean;
}

/** The modules a TypeScript file imports or re-exports, statically or by `import()` and `require()`. */
export function importsOf(file: string): Import[] {
  const source = parsed(file);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier))
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.importClause?.isTypeOnly ?? false });
    if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier))
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    const [argument] = ts.isCallExpression(node) ? node.arguments : [];
    if (ts.isCallExpression(node) && argument && ts.isStringLiteral(argument)) {
      const callee = node.expression.getText(source);
      if (callee === 'import' || callee === 'require')
        found.push({ specifier: argument.text, typeOnly: false });
    }
    if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    )
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const PATH = /(?:^|[\s"'`=(/])((?:\.\.\/)*)([a-z][\w-]*)\/([\w.-]+(?:\/[\w.-]+)*)/g;

/**
 * The paths, from the root, that a text names and that exist (`cli/dist/main.js`, `images/build.sh`); a path
 * relative to `from` (the folder of the file holding the text) counts as well.
 */
export function pathsIn(text: string, from: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(PATH)) {
    const [, up = '', top = '', rest = ''] = m;
    const target = up ? relative(ROOT, resolve(ROOT, from, `${up}${top}/${rest}`)) : `${top}/${rest}`;
    const [folder, next] = target.split('/');
    if (!folder || folder.startsWith('..') || !next) continue;
    if (existsSync(join(ROOT, folder, next))) found.push(target);
  }
  return found;
}

/** The lines of a shell script that are not comments. */
const shellCode = (file: string): string =>
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');

/** The paths a package's files start or read: its TypeScript string literals and its shell scripts' code. */
export function launchesOf(dir: string): string[] {
  const fromTs = filesOf(dir, ['.ts']).flatMap((file) =>
    literals(file).flatMap((l) => pathsIn(l, dirname(file))),
  );
  const fromShell = filesOf(dir, ['.sh']).flatMap((file) => pathsIn(shellCode(file), dirname(file)));
  return [...fromTs, ...fromShell].filter((path) => !path.startsWith(`${dir}/`));
}

/**
 * The packages a package starts or reads by path. A script outside every package (images/build.sh,
 * scripts/bun.sh) stands for the packages its own code reads, so a package that runs images/build.sh depends on
 * the bundles that script packs.
 */
export function launchedPackages(dir: string, byDir: ReadonlyMap<string, Package>): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const follow = (path: string): void => {
    const pkg = byDir.get(path.split('/')[0] ?? '');
    if (pkg) {
      out.add(pkg.name);
      return;
    }
    if (!path.endsWith('.sh') || seen.has(path)) return;
    seen.add(path);
    for (const next of pathsIn(shellCode(path), dirname(path))) follow(next);
  };
  for (const path of launchesOf(dir)) follow(path);
  return out;
}

/** A cycle in a graph of names, as the path that closes it, or undefined. */
export function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): string[] | undefined => {
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    if (state.get(node) === 'done') return;
    state.set(node, 'open');
    for (const next of edges.get(node) ?? []) {
      const cycle = visit(next, [...path, node]);
      if (cycle) return cycle;
    }
    state.set(node, 'done');
    return;
  };
  for (const node of edges.keys()) {
    const cycle = visit(node, []);
    if (cycle) return cycle;
  }
  return;
}
