import { describe, expect, it } from 'vitest';
import { readCommandLine, settingsHelp } from '../src/command-line.js';
import { kubeConfigSource, loadKubeConfig, NO_KUBECONFIG } from '../src/kubeconfig.js';

const TABLE = {
  port: { flag: 'port', env: 'PORT', default: '8443', help: 'HTTPS port' },
  name: { flag: 'name', default: '', help: 'a name' },
  dry: { flag: 'dry', env: 'DRY', default: '', boolean: true, help: 'change nothing' },
} as const;

const line = (argv: string[], env: Record<string, string> = {}) => {
  const r = readCommandLine(TABLE, argv, env);
  if (!r.ok || r.value.help) throw new Error('expected values');
  return r.value.read;
};

describe('a command line read from its settings table', () => {
  it('takes the flag, then the variable, then the default', () => {
    expect(line(['--port', '1']).raw('port')).toBe('1');
    expect(line([], { PORT: '2' }).raw('port')).toBe('2');
    expect(line(['--port', '1'], { PORT: '2' }).raw('port')).toBe('1');
    expect(line([]).raw('port')).toBe('8443');
  });

  it('reads a switch from its flag or its variable', () => {
    expect(line(['--dry']).on('dry')).toBe(true);
    expect(line([], { DRY: 'true' }).on('dry')).toBe(true);
    expect(line([]).on('dry')).toBe(false);
  });

  it('names the flag, the variable and the accepted form of every bad value, all at once', () => {
    const read = line(['--port', 'x']);
    read.integer('port', 1, 65_535);
    read.required('name');
    expect(read.errors).toEqual([
      '--port / PORT: "x" is not valid; use an integer from 1 to 65535',
      '--name is required',
    ]);
  });

  it('refuses an unknown flag, and answers --help', () => {
    expect(readCommandLine(TABLE, ['--nope'], {}).ok).toBe(false);
    const help = readCommandLine(TABLE, ['-h'], {});
    expect(help.ok && help.value.help).toBe(true);
  });

  it('makes the help from the table: every flag, its variable and its default', () => {
    const help = settingsHelp('x [flags]', 'Does x.', TABLE);
    for (const s of Object.values(TABLE)) expect(help).toContain(`--${s.flag}`);
    expect(help).toMatch(/--port VALUE +PORT +HTTPS port \(default 8443\)/);
    expect(help).toMatch(/--dry +DRY +change nothing$/m);
  });
});

describe('the kube config, found as kubectl finds it', () => {
  it('takes --kubeconfig, then $KUBECONFIG, then ~/.kube/config, then the pod it runs in', () => {
    const home = '/home/me/.kube/config';
    const cluster = { KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    expect(kubeConfigSource('/f', { KUBECONFIG: '/e', ...cluster }, home)).toEqual({
      ok: true,
      value: { kind: 'file', path: '/f' },
    });
    expect(kubeConfigSource(undefined, { KUBECONFIG: '/e', ...cluster }, home)).toEqual({
      ok: true,
      value: { kind: 'files', paths: ['/e'] },
    });
    expect(kubeConfigSource(undefined, cluster, home)).toEqual({
      ok: true,
      value: { kind: 'file', path: home },
    });
    expect(kubeConfigSource(undefined, cluster, undefined)).toEqual({
      ok: true,
      value: { kind: 'in-cluster' },
    });
  });

  it('says there is none rather than trying localhost', () => {
    expect(kubeConfigSource(undefined, {}, undefined)).toEqual({ ok: false, error: NO_KUBECONFIG });
  });

  it('loads the source it found and switches context when asked', () => {
    const calls: string[] = [];
    const make = () => ({
      clusters: [] as { name: string }[],
      users: [] as { name: string }[],
      contexts: [] as { name: string }[],
      currentContext: '',
      loadFromFile(f: string) {
        calls.push(`file ${f}`);
      },
      loadFromCluster: () => calls.push('cluster'),
      loadFromOptions: () => calls.push('options'),
      setCurrentContext: (c: string) => calls.push(`context ${c}`),
    });
    loadKubeConfig(make, { kind: 'file', path: '/f' }, 'lab');
    loadKubeConfig(make, { kind: 'in-cluster' });
    expect(calls).toEqual(['file /f', 'context lab', 'cluster']);
  });

  it('merges a KUBECONFIG list as kubectl does: the first file to name a thing wins, missing files skipped', () => {
    const files: Record<string, { clusters: string[]; contexts: string[]; current: string }> = {
      '/viewer': { clusters: ['local'], contexts: ['viewer'], current: 'viewer' },
      '/admin': { clusters: ['local', 'other'], contexts: ['admin'], current: 'admin' },
    };
    const make = () => {
      const c = {
        clusters: [] as { name: string; from?: string }[],
        users: [] as { name: string }[],
        contexts: [] as { name: string }[],
        currentContext: '',
        loadFromFile(f: string) {
          const file = files[f];
          if (!file) throw new Error(`no ${f}`);
          c.clusters = file.clusters.map((name) => ({ name, from: f }));
          c.contexts = file.contexts.map((name) => ({ name }));
          c.currentContext = file.current;
        },
        loadFromCluster() {},
        loadFromOptions(o: {
          clusters: readonly { name: string }[];
          contexts: readonly { name: string }[];
          currentContext: string;
        }) {
          c.clusters = [...o.clusters];
          c.contexts = [...o.contexts];
          c.currentContext = o.currentContext;
        },
        setCurrentContext(name: string) {
          c.currentContext = name;
        },
      };
      return c;
    };
    expect(kubeConfigSource(undefined, { KUBECONFIG: '/viewer:/gone:/admin' }, undefined)).toEqual({
      ok: true,
      value: { kind: 'files', paths: ['/viewer', '/gone', '/admin'] },
    });
    const merged = loadKubeConfig(
      make,
      { kind: 'files', paths: ['/viewer', '/gone', '/admin'] },
      undefined,
      (f) => f in files,
    );
    expect(merged.currentContext).toBe('viewer');
    expect(merged.clusters).toEqual([
      { name: 'local', from: '/viewer' },
      { name: 'other', from: '/admin' },
    ]);
    expect(merged.contexts.map((c) => c.name)).toEqual(['viewer', 'admin']);
  });
});

describe('a server in the cluster', () => {
  it('keeps its own account inside a pod, whatever kubeconfig its environment or home holds', () => {
    const env = { KUBECONFIG: '/e', KUBERNETES_SERVICE_HOST: '10.0.0.1' };
    expect(kubeConfigSource(undefined, env, '/home/x/.kube/config', { inClusterFirst: true })).toEqual({
      ok: true,
      value: { kind: 'in-cluster' },
    });
    expect(kubeConfigSource('/f', env, undefined, { inClusterFirst: true })).toEqual({
      ok: true,
      value: { kind: 'file', path: '/f' },
    });
  });
});
