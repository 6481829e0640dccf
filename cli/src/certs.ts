/** `sidecar-destruct certs`: see certs/src/bootstrap.ts. Exit 0 done (or nothing to do), 1 failed, 2 bad flags. */
import { CERTS_HELP, ensureCertificates, kubeConfigOrDefault, parseCertsArgs } from '@sidecar-destruct/certs';
import type { Io } from './io.js';

export async function certsCommand(args: string[], io: Io): Promise<number> {
  let options: ReturnType<typeof parseCertsArgs>;
  try {
    options = parseCertsArgs(args);
  } catch (e) {
    return io.fail(`${(e as Error).message} (see 'sidecar-destruct certs --help')`);
  }
  if ('help' in options) {
    io.stdout(CERTS_HELP);
    return 0;
  }
  try {
    const { steps } = await ensureCertificates(options, kubeConfigOrDefault(options.kubeconfig));
    if (steps.length === 0) io.stdout('certificates are healthy; nothing changed\n');
    for (const step of steps) io.stdout(`${step.kind}: ${step.why}\n`);
    return 0;
  } catch (e) {
    io.fail((e as Error).message);
    return 1;
  }
}
