/**
 * Upgrading an install in place on a real kube-apiserver: deploy/'s admission policies applied over those of
 * 0.1.0 leave nothing behind that would refuse the pods the webhook injects.
 */
import type { ControlPlane } from '@sidecar-destruct/testkit';
import { DEPLOY_DIR } from '@sidecar-destruct/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, eventually, type InstalledCluster, installedCluster, usbPod } from './fixtures.js';

let cluster: InstalledCluster;
let cp: ControlPlane;

beforeAll(async () => {
  cluster = await installedCluster();
  ({ cp } = cluster);
});
afterAll(async () => cluster?.stop());

describe('upgrade', () => {
  it("applied over 0.1.0's policies, leaves no binding that refuses injected pods", async () => {
    // 0.1.0's binding of require-injection: no parameter, no match resources (its policy took none). Left in
    // place, it would evaluate the policy without the image parameter and refuse every injected pod.
    const old = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'sidecar-destruct-require-injection' },
      spec: { policyName: 'sidecar-destruct-require-injection', validationActions: ['Deny'] },
    };
    await cp.kubectl(['apply', '-f', '-'], JSON.stringify(old));
    await cp.kubectl([
      'apply',
      '--server-side',
      '--force-conflicts',
      '-f',
      `${DEPLOY_DIR}base/admission-policies.yaml`,
    ]);
    await createNamespace(cp, 'upgraded', { 'sidecar-destruct.io/injection': 'enabled' });
    await eventually(async () => {
      for (const p of [
        usbPod(`injected-${Date.now()}`),
        { ...usbPod(`free-${Date.now()}`), spec: { ...usbPod('x').spec, nodeSelector: {} } },
      ]) {
        const reply = await cp.rest('POST', '/api/v1/namespaces/upgraded/pods', p);
        expect(reply.status, JSON.stringify(reply.body)).toBe(201);
      }
    }, 10_000);
  });
});
