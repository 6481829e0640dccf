import { grantCommand } from '@sidecar-destruct/core';
import { describe, expect, it } from 'vitest';
import { ExpiringLruCache } from '../src/accounts.js';
import {
  type ClusterState,
  holdsSidecarRoles,
  type ManagedBinding,
  notGrantedWarning,
  plan,
} from '../src/pure/grants.js';

const OWN = 'sidecar-destruct-system';
const state = (partial: Partial<ClusterState>): ClusterState => ({
  enabledNamespaces: new Set(),
  dedicatedAccounts: [],
  grantedAccounts: [],
  bindings: [],
  ...partial,
});
const rb = (namespace: string, account: string, uid = `rb-${namespace}-${account}`): ManagedBinding => ({
  kind: 'RoleBinding',
  name: `sidecar-destruct:${account}`,
  namespace,
  uid,
  subject: { namespace, name: account },
});
const crb = (namespace: string, account: string): ManagedBinding => ({
  kind: 'ClusterRoleBinding',
  name: `sidecar-destruct:${namespace}:${account}`,
  uid: `crb-${namespace}-${account}`,
  subject: { namespace, name: account },
});

describe('who holds the sidecar roles', () => {
  it.each([
    [{ dedicated: true, namespaceEnabled: true, accountGranted: false }, true],
    [{ dedicated: true, namespaceEnabled: false, accountGranted: false }, false],
    [{ dedicated: false, namespaceEnabled: true, accountGranted: false }, false],
    [{ dedicated: false, namespaceEnabled: false, accountGranted: true }, true],
    [{ dedicated: true, namespaceEnabled: false, accountGranted: true }, true],
  ])('%o → %s', (facts, holds) => {
    expect(holdsSidecarRoles(facts)).toBe(holds);
  });

  it('a pod that names an account, in an enabled namespace, does not make it hold them', () => {
    expect(holdsSidecarRoles({ dedicated: false, namespaceEnabled: true, accountGranted: false })).toBe(
      false,
    );
  });

  it('says the exact grant command in the warning', () => {
    const w = notGrantedWarning({ namespace: 'team', name: 'deployer' }, false);
    expect(w).toContain(
      'kubectl label serviceaccount deployer -n team sidecar-destruct.io/sidecar-roles=granted',
    );
    expect(w).toContain(grantCommand({ namespace: 'team', name: 'deployer' }));
  });
});

describe('the reconcile plan', () => {
  it('binds the dedicated account of an enabled namespace and a granted account, once each', () => {
    const todo = plan(
      state({
        enabledNamespaces: new Set(['home']),
        dedicatedAccounts: [
          { namespace: 'home', name: 'sidecar-destruct' },
          { namespace: 'lone', name: 'sidecar-destruct' },
        ],
        grantedAccounts: [{ namespace: 'team', name: 'deployer' }],
        bindings: [rb('team', 'deployer')],
      }),
      OWN,
    );
    expect(todo.bind).toEqual([
      { namespace: 'home', name: 'sidecar-destruct' },
      { namespace: 'team', name: 'deployer' },
    ]);
    expect(todo.remove).toEqual([]);
  });

  it('removes the bindings of a revoked grant, a disabled namespace and a deleted namespace', () => {
    const todo = plan(
      state({
        enabledNamespaces: new Set(['home']),
        dedicatedAccounts: [
          { namespace: 'home', name: 'sidecar-destruct' },
          { namespace: 'was-enabled', name: 'sidecar-destruct' },
        ],
        bindings: [
          rb('home', 'sidecar-destruct'),
          crb('home', 'sidecar-destruct'),
          rb('was-enabled', 'sidecar-destruct'),
          crb('deleted', 'sidecar-destruct'),
          rb('team', 'deployer'),
        ],
      }),
      OWN,
    );
    expect(todo.bind).toEqual([]);
    expect(todo.remove.map((b) => b.uid)).toEqual([
      'rb-was-enabled-sidecar-destruct',
      'crb-deleted-sidecar-destruct',
      'rb-team-deployer',
    ]);
  });

  it('removes a labelled binding of another shape, and never binds in kube-* or its own namespace', () => {
    const odd: ManagedBinding = { kind: 'ClusterRoleBinding', name: 'everyone', uid: 'odd' };
    const misplaced: ManagedBinding = { ...rb('home', 'sidecar-destruct'), namespace: 'other', uid: 'moved' };
    const todo = plan(
      state({
        enabledNamespaces: new Set(['home', 'kube-public', OWN]),
        dedicatedAccounts: [
          { namespace: 'home', name: 'sidecar-destruct' },
          { namespace: 'kube-public', name: 'sidecar-destruct' },
          { namespace: OWN, name: 'sidecar-destruct' },
        ],
        grantedAccounts: [{ namespace: 'kube-system', name: 'default' }],
        bindings: [odd, misplaced, rb('home', 'sidecar-destruct'), crb('home', 'sidecar-destruct')],
      }),
      OWN,
    );
    expect(todo.bind).toEqual([]);
    expect(todo.remove.map((b) => b.uid)).toEqual(['odd', 'moved']);
  });
});

describe('the cache of accounts checked', () => {
  it('holds at most its bound, forgetting the least recently used', () => {
    const m = new ExpiringLruCache<number>(3, () => 0);
    for (let i = 0; i < 1_000; i++) m.set(`k${i}`, i, 60_000);
    expect(m.size).toBe(3);
    expect(m.get('k999')).toBe(999);
    expect(m.get('k0')).toBeUndefined();
  });

  it('forgets an entry at its deadline', () => {
    let t = 0;
    const m = new ExpiringLruCache<string>(10, () => t);
    m.set('a', 'x', 1_000);
    t = 999;
    expect(m.get('a')).toBe('x');
    t = 1_000;
    expect(m.get('a')).toBeUndefined();
    expect(m.size).toBe(0);
  });
});
