/**
 * The dependency graph the README's "Development" section states: the pure parts import no I/O, and the webhook and
 * the sidecar depend on core/, never on each other. Read from the import statements of the sources themselves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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
  /^(node:(https?|http2|net|tls|dns|fs|fs\/promises|child_process|dgram)|undici|fastify|@kubernetes\/client-node|prom-client)$/;

describe('layout', () => {
  it.each(['core/src', 'sidecar/src/pure', 'webhook/src/pure'])('%s imports no I/O at run time', (dir) => {
    const imports = runtimeImports(dir);
    expect(imports.size).toBeGreaterThan(0);
    for (const [file, specifiers] of imports) {
      expect(
        specifiers.filter((s) => IO.test(s)),
        file,
      ).toEqual([]);
    }
  });

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
    const cli = JSON.parse(readFileSync(join(ROOT, 'cli/package.json'), 'utf8'));
    for (const kit of ['@sidecar-destruct/testkit', '@sidecar-destruct/infra', '@sidecar-destruct/demo'])
      expect(Object.keys(cli.dependencies)).not.toContain(kit);
  });
});
