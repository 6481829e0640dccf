import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { ruleOf } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import { render, table } from '../src/kubectl/output.js';
import { pluginCommand } from '../src/kubectl/plugin.js';
import {
  certificateLine,
  checkStatus,
  endpointsLine,
  imageLine,
  nativeLine,
  nfdLine,
  type PolicyFacts,
  policiesLine,
  probeLine,
  type Seen,
  versionLine,
} from '../src/kubectl/pure/check.js';
import { INSTALL } from '../src/kubectl/pure/install.js';
import { placements, tolerates } from '../src/kubectl/pure/placement.js';
import { holdsRoles, optedIn, statusRow } from '../src/kubectl/pure/status.js';
import { recordingIo } from './io.js';

const USB = 'feature.node.kubernetes.io/usb-ff_10c4_ea60.present';
const yes = <T>(value: T): Seen<T> => ({ ok: true, value });
const forbidden = (what: string): Seen<never> => ({
  ok: false,
  why: 'forbidden',
  what,
  message: 'forbidden',
});
const missing = (what: string): Seen<never> => ({ ok: false, why: 'missing', what, message: 'not found' });

const node = (name: string, labels: Record<string, string>, spec: V1Node['spec'] = {}): V1Node => ({
  metadata: { name, labels },
  spec,
});
const pod = (extra: Partial<V1Pod['spec']> = {}, annotations: Record<string, string> = {}): V1Pod => ({
  metadata: { name: 'z2m', namespace: 'home', uid: 'u1', annotations },
  spec: { nodeName: 'pi-kitchen', nodeSelector: { [USB]: 'true' }, containers: [{ name: 'app' }], ...extra },
});

function installed(): PolicyFacts {
  return {
    api: yes(true),
    policies: new Map(Object.keys(INSTALL.policies).map((p) => [p, yes(true as const)])),
    bindings: new Map(
      Object.entries(INSTALL.policies).flatMap(([p, bs]) =>
        bs.map((b) => [b, yes({ policy: p, deny: true })]),
      ),
    ),
    parameter: yes(true),
  };
}

describe('check, line by line', () => {
  it('passes the tested range and warns outside it', () => {
    expect(versionLine(yes('v1.37.2')).status).toBe('ok');
    expect(versionLine(yes('v1.34.0+k3s1')).status).toBe('ok');
    expect(versionLine(yes('v1.33.5')).status).toBe('warn');
    expect(versionLine(yes('v1.38.0')).status).toBe('warn');
  });

  it('fails on exactly the missing binding, naming it', () => {
    expect(policiesLine(installed()).status).toBe('ok');
    const facts = installed();
    (facts.bindings as Map<string, Seen<{ policy: string; deny: boolean }>>).set(
      'sidecar-destruct-grant',
      missing('get binding'),
    );
    const line = policiesLine(facts);
    expect(line.status).toBe('fail');
    expect(line.detail).toBe('ValidatingAdmissionPolicyBinding sidecar-destruct-grant is missing');
  });

  it('fails when the policy API is off, and says what RBAC hid instead of passing', () => {
    expect(policiesLine({ ...installed(), api: missing('discover') }).status).toBe('fail');
    const hidden = installed();
    (hidden.policies as Map<string, Seen<true>>).set('sidecar-destruct-grant', forbidden('get policy'));
    expect(policiesLine(hidden)).toMatchObject({
      status: 'unknown',
      detail: 'cannot get policy: forbidden by RBAC',
    });
  });

  it('fails with no ready endpoint', () => {
    expect(endpointsLine(yes(0)).status).toBe('fail');
    expect(endpointsLine(yes(2))).toMatchObject({ status: 'ok', detail: '2 ready' });
  });

  it('fails on a refused or un-injected dry run, and needs create for it', () => {
    expect(probeLine(yes({ kind: 'injected', namespace: 'home' })).status).toBe('ok');
    expect(probeLine(yes({ kind: 'not-injected', namespace: 'home' })).status).toBe('fail');
    expect(probeLine(yes({ kind: 'refused', namespace: 'home', message: 'denied' })).status).toBe('fail');
    expect(probeLine(forbidden('create pods in home (dry run)')).status).toBe('unknown');
  });

  it('fails an expired certificate, warns inside the renewal window with the date, passes beyond it', () => {
    const now = new Date('2026-12-07T00:00:00Z');
    const cron = yes('17 3 * * 1');
    expect(certificateLine(yes(new Date('2026-12-01T00:00:00Z')), cron, now).status).toBe('fail');
    const soon = certificateLine(yes(new Date('2026-12-20T00:00:00Z')), cron, now);
    expect(soon.status).toBe('warn');
    expect(soon.detail).toContain('expires 2026-12-20 (13 days)');
    expect(certificateLine(yes(new Date('2027-12-01T00:00:00Z')), cron, now).status).toBe('ok');
    expect(certificateLine(yes(new Date('2026-12-20T00:00:00Z')), missing('get cronjob'), now).status).toBe(
      'fail',
    );
  });

  it('fails without the sidecar image, and without NFD when a protected pod needs it', () => {
    expect(imageLine(yes({})).status).toBe('fail');
    expect(imageLine(yes({ sidecarImage: 'ghcr.io/x/sidecar:1' })).detail).toBe('ghcr.io/x/sidecar:1');
    expect(nfdLine(yes(['home/z2m']), yes(false)).status).toBe('fail');
    expect(nfdLine(yes([]), yes(false)).status).toBe('ok');
    expect(nfdLine(yes(['home/z2m']), yes(true)).status).toBe('ok');
  });

  it('warns of kubelets too old for native sidecars, by name', () => {
    expect(nativeLine(yes(new Map([['a', 'v1.37.2']])), 29).status).toBe('ok');
    expect(nativeLine(yes(new Map([['old', 'v1.28.3']])), 29).detail).toContain('old (v1.28.3)');
  });

  it('exits 1 when a line failed, 3 when one could not be verified, 0 for warnings alone', () => {
    expect(checkStatus([versionLine(yes('v1.33.0'))])).toBe(0);
    expect(checkStatus([versionLine(yes('v1.33.0')), probeLine(forbidden('x'))])).toBe(3);
    expect(checkStatus([endpointsLine(yes(0)), probeLine(forbidden('x'))])).toBe(1);
  });

  it('fails a binding that only audits', () => {
    const facts = installed();
    (facts.bindings as Map<string, Seen<{ policy: string; deny: boolean }>>).set(
      'sidecar-destruct-grant',
      yes({ policy: 'sidecar-destruct-grant', deny: false }),
    );
    expect(policiesLine(facts)).toMatchObject({
      status: 'fail',
      detail: 'binding sidecar-destruct-grant does not deny (validationActions without Deny)',
    });
  });
});

describe('explain --nodes: where a replacement could go', () => {
  const rule = (() => {
    const r = ruleOf(pod());
    if (!r.ok) throw new Error(r.error);
    return r.value;
  })();

  it('lists the matching, schedulable nodes first, and says why the others do not fit', () => {
    const rows = placements(pod(), rule, [
      node('pi-garage', {}),
      node('pi-kitchen', { [USB]: 'true' }),
      node('pi-attic', { [USB]: 'true' }, { unschedulable: true }),
      node(
        'pi-cellar',
        { [USB]: 'true' },
        { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] },
      ),
    ]);
    expect(rows.map((r) => [r.node, r.fits])).toEqual([
      ['pi-kitchen', true],
      ['pi-attic', false],
      ['pi-cellar', false],
      ['pi-garage', false],
    ]);
    expect(rows[1]?.unschedulable).toBe('cordoned');
    expect(rows[2]?.unschedulable).toBe('taint dedicated=db:NoSchedule');
  });

  it('lets a toleration open a tainted node, as the scheduler does', () => {
    const taint = { key: 'dedicated', value: 'db', effect: 'NoSchedule' };
    expect(tolerates({ key: 'dedicated', operator: 'Equal', value: 'db' }, taint)).toBe(true);
    expect(tolerates({ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, taint)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ key: 'dedicated', value: 'web' }, taint)).toBe(false);
    expect(tolerates({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint)).toBe(false);
  });
});

describe('status rows', () => {
  it('flags an opted-in pod that is not injected', () => {
    const row = statusRow({
      pod: pod(),
      node: node('pi-kitchen', { [USB]: 'true' }),
      events: [],
      roles: true,
    });
    expect(row.injection).toBe('NOT INJECTED');
    expect(row.problems[0]).toContain('not injected');
  });

  it('shows a native sidecar whose node still matches, with roles held and no problem', () => {
    const injected = pod(
      { initContainers: [{ name: 'sidecar-destruct', restartPolicy: 'Always' }] },
      {
        'sidecar-destruct.io/status': 'injected',
      },
    );
    const row = statusRow({
      pod: injected,
      node: node('pi-kitchen', { [USB]: 'true' }),
      events: [],
      roles: true,
    });
    expect(row).toMatchObject({
      injection: 'native sidecar',
      verdict: 'matches',
      roles: 'held',
      grace: '10s',
      problems: [],
    });
  });

  it('says the verdict is unknown when nodes are hidden, and that the roles are missing', () => {
    const injected = pod({ containers: [{ name: 'app' }, { name: 'sidecar-destruct' }] });
    const row = statusRow({
      pod: injected,
      node: undefined,
      nodeUnread: 'cannot list nodes',
      events: undefined,
      roles: false,
    });
    expect(row).toMatchObject({
      injection: 'container',
      verdict: 'unknown (cannot list nodes)',
      roles: 'MISSING',
    });
    expect(row.lastEvent).toBe('unknown (cannot list events)');
  });

  it('counts a pod as opted in by its label or its namespace, never when it opted out', () => {
    const enabled = { metadata: { labels: { 'sidecar-destruct.io/injection': 'enabled' } } };
    expect(optedIn(pod(), enabled)).toBe(true);
    expect(optedIn(pod(), undefined)).toBe(false);
    expect(
      optedIn({ ...pod(), metadata: { labels: { 'sidecar-destruct.io/inject': 'false' } } }, enabled),
    ).toBe(false);
  });

  it('holds the roles only with both bindings naming the account', () => {
    const p = pod({ serviceAccountName: 'sidecar-destruct' });
    const subject = [{ kind: 'ServiceAccount', name: 'sidecar-destruct', namespace: 'home' }];
    const rb = {
      roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'sidecar-destruct-sidecar' },
      subjects: subject,
    };
    const crb = {
      roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'sidecar-destruct-node-reader' },
      subjects: subject,
    };
    expect(holdsRoles(p, rb, crb)).toBe(true);
    expect(holdsRoles(p, rb, undefined)).toBe(false);
    expect(holdsRoles(pod(), rb, crb)).toBe(false);
    // A namespace admin's own Role of the same name, bound under the webhook's binding name, holds nothing.
    const squatted = { ...rb, roleRef: { ...rb.roleRef, kind: 'Role' } };
    expect(holdsRoles(p, squatted, crb)).toBe(false);
  });
});

describe('check, one cause one failing line', () => {
  it('does not try the webhook when an earlier line already failed for it', () => {
    expect(probeLine(undefined, 'the webhook endpoints line failed')).toMatchObject({
      status: 'skip',
      detail: 'not tried: the webhook endpoints line failed',
    });
  });
});

/** The control characters of a text (newline aside). */
const controls = (text: string): string[] =>
  [...text].filter((c) => {
    const n = c.charCodeAt(0);
    return (n < 32 && n !== 10) || (n >= 127 && n < 160);
  });

describe('what the plugin prints', () => {
  it("never passes a pod author's control characters to the terminal, in a table or in JSON", () => {
    const hostile = 'ok\u001b]52;c;cHduZWQ=\u0007 \u009b2J done';
    expect(render('table', {}, () => `${hostile}\n`)).toBe('ok?]52;c;cHduZWQ=? ?2J done\n');
    expect(controls(render('json', { m: hostile }, () => ''))).toEqual([]);
    expect(JSON.parse(render('json', { m: hostile }, () => '')).m).toBe(hostile);
    expect(controls(render('yaml', { m: hostile }, () => ''))).toEqual([]);
  });

  it('refuses a name that would reach another path before it connects', async () => {
    const { io } = recordingIo();
    for (const args of [
      ['check', '--probe-namespace', 'ns/pods#'],
      ['status', '-n', 'home/pods?x='],
      ['explain', '../../nodes'],
      ['explain', 'z2m', '--node', 'a/b'],
    ])
      await expect(pluginCommand(args, io)).rejects.toThrow(/is not a valid Kubernetes name/);
  });
});

describe('check and status on what they cannot see or what is not there', () => {
  it('does not blame the Service when the webhook is called by URL', () => {
    expect(endpointsLine(yes(0), 'https://10.0.0.1:8443/mutate')).toMatchObject({ status: 'skip' });
  });

  it('flags a pod no node fits, and says a pod without the sidecar is not protected', () => {
    const pending: V1Pod = {
      ...pod({ nodeName: undefined }),
      status: {
        conditions: [
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes' },
        ],
      },
    };
    const row = statusRow({ pod: pending, node: undefined, events: [], roles: true });
    expect(row.verdict).toBe('Pending: no node fits');
    expect(row.problems).toContain('Pending, no node fits (0/2 nodes)');
  });

  it('keeps every table row on one line, whatever a cell holds', () => {
    expect(render('table', {}, () => table(['a', 'b'], [['x', 'forged\r\nROW']]))).toBe(
      'A   B\nx   forged ROW\n',
    );
  });
});
