/**
 * The dependency graph the README's "Development" section states: the pure parts import no I/O, and the webhook and
 * the sidecar depend on core/, never on each other. Read from the import statements of the sources themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  filesOf,
  findCycle,
  importsOf,
  launchedPackages,
  type Package,
  packageOf,
  packages,
  pathsIn,
  ROOT_TOOLS,
} from './packages.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The modules a folder's .ts files import at run time (`import type` is erased and does not count). */
function runtimeImports(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(join(ROOT, dir, file), 'utf8');
    const specifiers = [
      // import … from '…' and export … from '…' (not `import type`, which is erased)
      /^(?:import|export)\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms,
      // import '…' for its side effects, import('…') and require('…')
      /^import\s+'([^']+)'/gm,
      /\bimport\(\s*'([^']+)'\s*\)/g,
      /\brequire\(\s*'([^']+)'\s*\)/g,
    ].flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
    out.set(join(dir, file), specifiers);
  }
  return out;
}

const IO =
  /^((node:)?(https?|http2|net|tls|dns|fs|fs\/promises|child_process|dgram)|undici|fastify|@kubernetes\/client-node|prom-client|@sidecar-destruct\/certs)$/;

describe('layout', () => {
  it.each(['core/src', 'sidecar/src/pure', 'webhook/src/pure', 'cli/src/kubectl/pure'])(
    '%s imports no I/O at run time',
    (dir) => {
      const imports = runtimeImports(dir);
      expect(imports.size).toBeGreaterThan(0);
      for (const [file, specifiers] of imports) {
        expect(
          specifiers.filter((s) => IO.test(s)),
          file,
        ).toEqual([]);
      }
    },
  );

  it('core/ imports no other part of the project', () => {
    for (const [file, specifiers] of runtimeImports('core/src')) {
      expect(
        specifiers.filter((s) => s.startsWith('@sidecar-destruct/')),
        file,
      ).toEqual([]);
    }
  });

  it.each([
    ['webhook/src', '@sidecar-destruct/sidecar'],
    ['sidecar/src', '@sidecar-destruct/webhook'],
    ['udev/src', '@sidecar-destruct/sidecar'],
  ])('%s does not depend on %s', (dir, other) => {
    for (const [file, specifiers] of runtimeImports(dir)) {
      expect(
        specifiers.filter((s) => s.startsWith(other)),
        file,
      ).toEqual([]);
    }
  });

  it('keeps harness code out of the product: no test CA from certs/, no test file in bench/, no harness in the CLI', async () => {
    const certs = await import('@sidecar-destruct/certs');
    expect(Object.keys(certs)).not.toContain('loopbackServingCertificate');
    for (const [file, specifiers] of runtimeImports('bench')) {
      expect(
        specifiers.filter((s) => /\/test\//.test(s)),
        file,
      ).toEqual([]);
    }
    for (const product of ['core', 'sidecar', 'webhook', 'certs', 'udev', 'cli']) {
      const json = JSON.parse(readFileSync(join(ROOT, product, 'package.json'), 'utf8'));
      // At run time; a product's own tests may use the test kit (a devDependency), as envtest is used.
      const declared = Object.keys(json.dependencies ?? {});
      for (const kit of ['@sidecar-destruct/testkit', '@sidecar-destruct/infra', '@sidecar-destruct/demo'])
        expect(declared, product).not.toContain(kit);
    }
  });
});

const ALL = packages();
const BY_DIR = new Map(ALL.map((p) => [p.dir, p]));
const WORKSPACE = new Set(ALL.map((p) => p.name));
const isTest = (file: string): boolean =>
  /(^|\/)test\//.test(file.split('/').slice(1).join('/')) || file.startsWith('test/');

/** What a package's files use: imports (run-time ones from its sources apart) and the packages it launches. */
function usage(pkg: Package): { runtime: Set<string>; any: Set<string>; launched: Set<string> } {
  const runtime = new Set<string>();
  const any = new Set<string>();
  for (const file of filesOf(pkg.dir, ['.ts'])) {
    for (const { specifier, typeOnly } of importsOf(file)) {
      const name = packageOf(specifier);
      if (!name || name === pkg.name) continue;
      any.add(name);
      if (!typeOnly && !isTest(file)) runtime.add(name);
    }
  }
  return { runtime, any, launched: launchedPackages(pkg.dir, BY_DIR) };
}

/** Whether an npm script runs a package's command (`esbuild src/main.ts …`), which no import names. */
const runsAsCommand = (scripts: string, name: string): boolean =>
  new RegExp(`(^|\\n|&&|;|\\|)\\s*${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s`).test(scripts);

describe('every package declares what it uses, and the packages form no cycle', () => {
  it.each(ALL.map((p) => p.dir))(
    '%s/package.json declares every package its files import or launch',
    (dir) => {
      const pkg = BY_DIR.get(dir) as Package;
      const { runtime, any, launched } = usage(pkg);
      const declared = new Set([...pkg.dependencies, ...pkg.devDependencies, ...ROOT_TOOLS]);
      expect([...new Set([...any, ...launched])].filter((n) => !declared.has(n)).sort()).toEqual([]);
      // What its sources import or start at run time is a dependency, not a devDependency.
      expect([...new Set([...runtime, ...launched])].filter((n) => !pkg.dependencies.has(n)).sort()).toEqual(
        [],
      );
    },
  );

  it.each(ALL.map((p) => p.dir))('%s/package.json declares nothing its files do not use', (dir) => {
    const pkg = BY_DIR.get(dir) as Package;
    const { any, launched } = usage(pkg);
    const unused = [...pkg.dependencies, ...pkg.devDependencies].filter(
      (n) => !any.has(n) && !launched.has(n) && !n.startsWith('@types/') && !runsAsCommand(pkg.scripts, n),
    );
    expect(unused.sort()).toEqual([]);
  });

  it('has no cycle among the packages, counting devDependencies', () => {
    const edges = new Map(
      ALL.map((p) => [
        p.name,
        new Set([...p.dependencies, ...p.devDependencies].filter((n) => WORKSPACE.has(n))),
      ]),
    );
    expect(edges.size).toBeGreaterThan(8);
    expect(findCycle(edges)).toBeUndefined();
  });

  it('sees a cycle, an import and a launch by path when there is one', () => {
    const cyclic = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    expect(findCycle(cyclic)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', new Set(['b'])]]))).toBeUndefined();
    expect(pathsIn("new URL('../../cli/dist/main.js', import.meta.url)", 'infra/src')).toEqual([
      'cli/dist/main.js',
    ]);
    expect(pathsIn('runtime="$(node sidecar/dist/main.js)"', 'images')).toEqual(['sidecar/dist/main.js']);
    expect(pathsIn("'sidecar-destruct/sidecar:dev'", 'infra/src')).toEqual([]);
    expect(packageOf('@sidecar-destruct/webhook/grants')).toBe('@sidecar-destruct/webhook');
    expect(packageOf('node:fs')).toBeUndefined();
    expect(launchedPackages('infra', BY_DIR)).toContain('@sidecar-destruct/sidecar');
  });
});

describe('one place for the cache path', () => {
  it('is spelled only in scripts/cache.sh, which every script that uses the cache sources', () => {
    const files = [
      ...ALL.flatMap((p) => filesOf(p.dir, ['.sh', '.ts'])),
      ...['scripts', 'images', 'bench'].flatMap((d) => filesOf(d, ['.sh', '.ts'])),
    ].filter((f) => f !== 'scripts/cache.sh' && f !== 'test/unit/layout.test.ts');
    const spelled = files.filter((f) =>
      /XDG_CACHE_HOME|\$\{?HOME\}?\/\.cache/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(spelled).toEqual([]);
    const users = files.filter(
      (f) => f.endsWith('.sh') && /\$CACHE_ROOT|\$\{CACHE_ROOT/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(users.length).toBeGreaterThan(8);
    for (const f of users) expect(readFileSync(join(ROOT, f), 'utf8'), f).toMatch(/^source .*cache\.sh"?$/m);
  });
});
