/** The cluster a command talks to, found as kubectl finds it (core/src/kubeconfig.ts), or the reason there is none. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { type Env, kubeConfigSource, loadKubeConfig, ok, type Result } from '@sidecar-destruct/core';

export function kubeConfigFor(flag: string | undefined, env: Env, context?: string): Result<KubeConfig> {
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const source = kubeConfigSource(flag, env, existsSync(home) ? home : undefined);
  if (!source.ok) return source;
  try {
    const config = loadKubeConfig(() => new KubeConfig(), source.value, context, existsSync);
    if (context && !config.getContextObject(context))
      return { ok: false, error: `no context "${context}" in the kubeconfig` };
    return ok(config);
  } catch (e) {
    return { ok: false, error: `cannot load the kubeconfig: ${(e as Error).message}` };
  }
}
