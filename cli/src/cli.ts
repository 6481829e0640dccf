/** The sidecar-destruct command: dispatches to a subcommand. Each subcommand is loaded only when used. */
import { type ReadText, readTextFile } from './documents.js';
import { EXIT_BAD_INPUT, type Io, UsageError } from './io.js';

const HELP = `Usage: sidecar-destruct <command> [options]

Pods that delete themselves when their node stops matching their nodeSelector / required node affinity.

Commands:
  explain   would this pod self-destruct on this node, and why
  webhook   run the injecting admission webhook (HTTPS)
  sidecar   run the sidecar (what the injected container runs)
  certs     create or renew the webhook's certificates and register the CA
  udev      print udev rules that give a USB serial device a stable name

Run 'sidecar-destruct <command> --help' for a command's options.
`;

export async function run(argv: string[], io: Io, read: ReadText = readTextFile): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.stdout(HELP);
        return command === undefined ? EXIT_BAD_INPUT : 0;
      case 'explain': {
        const { explainCommand } = await import('./explain.js');
        return await explainCommand(args, io, read);
      }
      case 'webhook': {
        const { main } = await import('@sidecar-destruct/webhook/main');
        return await main(args, process.env);
      }
      case 'sidecar': {
        const { main } = await import('@sidecar-destruct/sidecar/main');
        return await main(args, process.env);
      }
      case 'certs': {
        const { certsCommand } = await import('./certs.js');
        return await certsCommand(args, io);
      }
      case 'udev': {
        const { udevCommand } = await import('@sidecar-destruct/udev');
        return udevCommand(args, io);
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    // parseArgs signals bad flags with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (e instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      return io.fail(`${(e as Error).message} (see 'sidecar-destruct ${command ?? ''} --help')`);
    }
    throw e;
  }
}
