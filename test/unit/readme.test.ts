/** The README cannot drift from the code: its tables and commands are checked against what the code defines. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ACTION_ANNOTATION,
  DEFAULT_SETTINGS,
  DRY_RUN_ANNOTATION,
  formatDuration,
  GRACE_PERIOD_ANNOTATION,
  GRANT_LABEL,
  NFD_OUTAGE_GRACE_PERIOD_ANNOTATION,
  SELECTOR_ANNOTATION,
  type Setting,
  STATUS_ANNOTATION,
  TESTED_KUBERNETES,
} from '@sidecar-destruct/core';
import { NFD_UPGRADE_TO, NFD_VERSION } from '@sidecar-destruct/infra';
import { SIDECAR_RUNTIME } from '@sidecar-destruct/sidecar/main';
import { SETTINGS } from '@sidecar-destruct/webhook/config';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${ROOT}README.md`, 'utf8');
const scripts = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts as Record<string, string>;
const cli = readFileSync(`${ROOT}cli/src/cli.ts`, 'utf8');

describe('README', () => {
  it('opens with the two commands, which exist', () => {
    const commands = /## The two commands\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(commands).toMatch(/^npm run demo/m);
    expect(commands).toMatch(/^npm test/m);
    expect(scripts.demo).toBeDefined();
    expect(scripts.test).toBeDefined();
    expect(readFileSync(`${ROOT}.ci/run`, 'utf8')).toMatch(/^npm test$/m);
  });

  it('lists every file of scripts/ in the layout, and each package folder', () => {
    const layout = /```\n(core\/[\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const scriptsEntry = /^scripts\/ {3}([\s\S]*?)(?=^\S|$(?![\s\S]))/m.exec(layout)?.[1] ?? '';
    for (const file of readdirSync(`${ROOT}scripts`)) expect(scriptsEntry, file).toContain(file);
    const packages = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).workspaces as string[];
    for (const folder of packages.filter((p) => p !== 'test'))
      expect(layout, folder).toMatch(new RegExp(`^${folder}/ `, 'm'));
  });

  it('names only npm scripts that exist', () => {
    for (const [, name] of readme.matchAll(/npm run ([a-z:-]+)/g))
      expect(scripts, `npm run ${name}`).toHaveProperty(name as string);
  });

  it('names only sidecar-destruct commands that exist', () => {
    const named = [...readme.matchAll(/npx sidecar-destruct ([a-z]+)/g)].map((m) => m[1]);
    const listed = /All commands: `sidecar-destruct ([a-z |]+)`/.exec(readme)?.[1]?.split(' | ') ?? [];
    // The CLI's command table: one `  name: {` entry per subcommand.
    const commands = [...cli.matchAll(/^ {2}([a-z]+): \{$/gm)].map((m) => m[1]);
    expect(commands.length).toBeGreaterThanOrEqual(5);
    expect(listed.sort()).toEqual([...commands].sort());
    for (const command of named) expect(commands, command).toContain(command);
  });

  it('lists every webhook setting with its flag, variable and default', () => {
    for (const s of Object.values(SETTINGS) as readonly Setting[]) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`--${s.flag}\` |`));
      expect(row, s.flag).toBeDefined();
      expect(row).toContain(s.env ? `| \`${s.env}\` |` : `| \`--${s.flag}\` | — |`);
      if (s.default) expect(row).toContain(`\`${s.default}\``);
    }
  });

  it('documents every annotation of the contract, and the sidecar flags', () => {
    for (const name of [
      SELECTOR_ANNOTATION,
      GRACE_PERIOD_ANNOTATION,
      NFD_OUTAGE_GRACE_PERIOD_ANNOTATION,
      ACTION_ANNOTATION,
      DRY_RUN_ANNOTATION,
      STATUS_ANNOTATION,
    ]) {
      expect(readme).toContain(`\`${name}\``);
    }
    expect(readme).toContain(`| \`${GRANT_LABEL}=granted\` | ServiceAccount label |`);
    // The defaults in the contract table are the code's.
    const row = (name: string) => readme.split('\n').find((l) => l.startsWith(`| \`${name}\``)) ?? '';
    expect(row(GRACE_PERIOD_ANNOTATION)).toMatch(
      new RegExp(`\\| \`${formatDuration(DEFAULT_SETTINGS.gracePeriodMs)}\` \\|$`),
    );
    expect(row(NFD_OUTAGE_GRACE_PERIOD_ANNOTATION)).toMatch(
      new RegExp(`\\| \`${formatDuration(DEFAULT_SETTINGS.nfdOutageGracePeriodMs)}\` \\|$`),
    );
    expect(readme).toContain(`bun ${SIDECAR_RUNTIME.flags.join(' ')} /app/sidecar.cjs`);
  });

  it('names the sources of the runtimes the images ship, at the pinned versions', () => {
    const pinned = (file: string) => readFileSync(`${ROOT}${file}`, 'utf8').trim();
    expect(readme).toContain(`\`github.com/oven-sh/bun\` at tag \`bun-v${pinned('.bun-version')}\``);
    expect(readme).toContain(`\`github.com/nodejs/node\` at tag \`v${pinned('.node-version')}\``);
  });

  it('names the node-feature-discovery releases the NFD suite runs, and only those', () => {
    const prose = readme.replace(/\s+/g, ' ');
    expect(prose).toContain(`NFD ${NFD_VERSION} and ${NFD_UPGRADE_TO}`);
    const named = new Set(
      [...prose.matchAll(/NFD (v\d+\.\d+\.\d+)(?: and (v\d+\.\d+\.\d+))?/g)]
        .flatMap((m) => m.slice(1))
        .filter(Boolean),
    );
    expect([...named].sort()).toEqual([NFD_VERSION, NFD_UPGRADE_TO].sort());
  });

  it('claims exactly the Kubernetes versions that npm test runs', () => {
    const tested = readFileSync(`${ROOT}testkit/controlplane/versions`, 'utf8')
      .split('\n')
      .filter((l) => /^\d/.test(l));
    expect(tested.length).toBeGreaterThanOrEqual(2);
    const prose = readme.replace(/\s+/g, ' ');
    expect(prose).toContain(`(tested on: ${tested.join(', ')};`);
    const minors = [...new Set(tested.map((v) => v.split('.').slice(0, 2).join('.')))];
    const named = `${minors.slice(0, -1).join(', ')} and ${minors.at(-1)}`;
    expect(prose).toContain(`**Supported Kubernetes versions: ${named}**`);
    // What `kubectl sidecar-destruct check` calls the tested range.
    expect([TESTED_KUBERNETES.oldest.join('.'), TESTED_KUBERNETES.newest.join('.')]).toEqual([
      minors[0],
      minors.at(-1),
    ]);
  });
});
