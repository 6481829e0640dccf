import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../src/cli.js';
import { recordingIo } from './io.js';

const POD = `
apiVersion: v1
kind: Pod
metadata: { name: z2m, namespace: home }
spec:
  nodeSelector: { feature.node.kubernetes.io/usb-ff_10c4_ea60.present: "true" }
  containers: [{ name: app, image: busybox }]
`;
const NODE = (labels: string) =>
  `{"apiVersion":"v1","kind":"Node","metadata":{"name":"pi","labels":${labels}}}`;

async function explain(files: Record<string, string>, ...flags: string[]) {
  const { io, out, failures } = recordingIo(files);
  const status = await run(['explain', '--pod', 'pod.yaml', '--node', 'node.json', ...flags], io);
  return { status, stdout: out(), errors: failures };
}

describe('sidecar-destruct explain', () => {
  it('exits 0 and says MATCH when the node keeps the label', async () => {
    const r = await explain({
      'pod.yaml': POD,
      'node.json': NODE('{"feature.node.kubernetes.io/usb-ff_10c4_ea60.present":"true"}'),
    });
    expect(r).toMatchObject({ status: 0, errors: [] });
    expect(r.stdout).toContain('MATCH');
  });

  it('exits 1 and names the missing label when the stick is unplugged', async () => {
    const r = await explain({ 'pod.yaml': POD, 'node.json': NODE('{}') });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('MISMATCH');
    expect(r.stdout).toContain('node has no label feature.node.kubernetes.io/usb-ff_10c4_ea60.present');
  });

  it('prints the explanation as JSON with --json', async () => {
    const r = await explain(
      {
        'pod.yaml': POD,
        'node.json': NODE('{"feature.node.kubernetes.io/usb-ff_10c4_ea60.present":"false"}'),
      },
      '--json',
    );
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      pod: { namespace: 'home', name: 'z2m' },
      node: 'pi',
      rule: { source: 'pod' },
      verdict: { matches: false, failures: [{ where: 'nodeSelector', nodeValue: 'false' }] },
    });
  });

  it.each([
    ['a Node given as the pod', { 'pod.yaml': NODE('{}'), 'node.json': NODE('{}') }, 'pod: not a Pod'],
    ['a Pod given as the node', { 'pod.yaml': POD, 'node.json': POD }, 'node: not a Node'],
    ['a missing file', { 'pod.yaml': POD }, 'cannot read node.json (ENOENT)'],
    [
      'unparseable YAML',
      { 'pod.yaml': 'kind: [', 'node.json': NODE('{}') },
      'pod.yaml is not valid YAML or JSON',
    ],
    ['an empty file', { 'pod.yaml': '', 'node.json': NODE('{}') }, 'pod.yaml is empty'],
    ['two documents', { 'pod.yaml': `${POD}\n---\n${POD}`, 'node.json': NODE('{}') }, 'holds 2 documents'],
    [
      'an unquoted boolean label',
      { 'pod.yaml': POD, 'node.json': 'kind: Node\nmetadata: {labels: {usb: true}}' },
      'metadata.labels["usb"] must be a string',
    ],
    [
      'a bad annotation',
      {
        'pod.yaml': POD.replace(
          'namespace: home',
          'namespace: home, annotations: { sidecar-destruct.io/action: nuke }',
        ),
        'node.json': NODE('{}'),
      },
      'annotation sidecar-destruct.io/action: "nuke" is not valid; use "delete" or "evict"',
    ],
    [
      'a bad selector annotation',
      {
        'pod.yaml': POD.replace(
          'namespace: home',
          'namespace: home, annotations: { sidecar-destruct.io/selector: "a in" }',
        ),
        'node.json': NODE('{}'),
      },
      'annotation sidecar-destruct.io/selector',
    ],
    [
      'a term that is not a list',
      {
        'pod.yaml': POD.replace(
          'nodeSelector:',
          'affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: 3}}}\n  nodeSelector:',
        ),
        'node.json': NODE('{}'),
      },
      'nodeSelectorTerms must be a list',
    ],
  ])('exits 2 with one line for %s', async (_name, files, message) => {
    const r = await explain(files as Record<string, string>);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(message);
  });

  it('exits 2 on a usage mistake', async () => {
    const r = await explain({}, '--frobnicate');
    expect(r.status).toBe(2);
    expect(r.errors[0]).toContain("Unknown option '--frobnicate'");
  });
});

describe('the built command', () => {
  const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
  const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

  it('reads the node from stdin and exits 1 with a verdict for the unplugged stick', () => {
    const r = spawnSync(
      process.execPath,
      [main, 'explain', '--pod', `${examples}pod-zigbee.yaml`, '--node', '-'],
      {
        input: NODE('{"kubernetes.io/arch":"arm64"}'),
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('MISMATCH');
    expect(r.stderr).toBe('');
  });

  it('prints a one-line error on stderr and exits 2 for a bad file', () => {
    const r = spawnSync(
      process.execPath,
      [
        main,
        'explain',
        '--pod',
        `${examples}node-with-stick.yaml`,
        '--node',
        `${examples}node-with-stick.yaml`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['sidecar-destruct: pod: not a Pod: kind is "Node"']);
  });

  it('has --help on every level', () => {
    for (const args of [['--help'], ['explain', '--help']]) {
      const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage: sidecar-destruct');
    }
  });
});
