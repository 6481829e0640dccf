/** `sidecar-destruct certs`: see certs/src/bootstrap.ts. Exit 0 done (or nothing to do), 1 failed, 2 bad flags. */
import { CERTS_HELP, CERTS_SETTINGS, certsOptions, ensureCertificates } from '@sidecar-destruct/certs';
import { readCommandLine } from '@sidecar-destruct/core';
import { type Io, UsageError } from './io.js';
import { kubeConfigFor } from './kube.js';

export async function certsCommand(args: readonly string[], io: Io): Promise<number> {
  const line = readCommandLine(CERTS_SETTINGS, args, io.env);
  if (!line.ok) throw new UsageError(line.error.join('; '));
  if (line.value.help) {
    io.stdout(CERTS_HELP);
    return 0;
  }
  const { read } = line.value;
  const options = certsOptions(read);
  if (read.errors.length > 0) throw new UsageError(read.errors.join('; '));
  const kubeConfig = kubeConfigFor(options.kubeconfig, io.env);
  if (!kubeConfig.ok) return io.fail(kubeConfig.error);
  try {
    const { steps } = await ensureCertificates(options, kubeConfig.value);
    if (steps.length === 0) io.stdout('certificates are healthy; nothing changed\n');
    for (const step of steps) io.stdout(`${step.kind}: ${step.why}\n`);
    return 0;
  } catch (e) {
    io.fail((e as Error).message);
    return 1;
  }
}
