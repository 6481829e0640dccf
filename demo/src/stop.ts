import { stopAllRealNodes } from '@sidecar-destruct/infra';
import { stopAllControlPlanes } from '@sidecar-destruct/testkit';

/** For Ctrl-C: stops every real node this process started (restoring the host), then every control plane. */
export async function stopEverything(): Promise<void> {
  await stopAllRealNodes();
  await stopAllControlPlanes();
}
