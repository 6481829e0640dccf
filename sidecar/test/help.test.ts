import { ENV } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import { SIDECAR_HELP } from '../src/main.js';

describe("the sidecar's --help", () => {
  const lines = SIDECAR_HELP.split('\n');

  it.each(Object.values(ENV))('describes %s, a variable of the env contract', (name) => {
    const line = lines.find((l) => l.trimStart().startsWith(`${name} `));
    expect(line, `no line of --help starts with ${name}`).toBeDefined();
    expect(line?.slice(line.indexOf(name) + name.length).trim()).not.toBe('');
  });

  it('lists the contract in its own order, one variable a line', () => {
    const listed = lines.map((l) => l.trim().split(' ')[0]).filter((w) => w?.startsWith('SIDECAR_DESTRUCT_'));
    expect(listed).toEqual(Object.values(ENV));
  });
});
