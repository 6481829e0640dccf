/** The sidecar-destruct command: dispatches to a subcommand. Each subcommand is loaded only when used. */
import { type Command, EXIT_BAD_INPUT, type Io, UsageError } from './io.js';

/** Every subcommand, in the help's order: what it does, and how to load it. */
const COMMANDS: Readonly<
  Record<string, { readonly summary: string; readonly load: () => Promise<Command> }>
> = {
  explain: {
    summary: 'would this pod self-destruct on this node, and why',
    load: async () => (await import('./explain.js')).explainCommand,
  },
  webhook: {
    summary: 'run the injecting admission webhook (HTTPS)',
    load: async () => {
      const { main } = await import('@sidecar-destruct/webhook/main');
      return (args, io) => main([...args], io.env);
    },
  },
  sidecar: {
    summary: 'run the sidecar (what the injected container runs)',
    load: async () => {
      const { main } = await import('@sidecar-destruct/sidecar/main');
      return (args, io) => main([...args], io.env);
    },
  },
  certs: {
    summary: "create or renew the webhook's certificates and register the CA",
    load: async () => (await import('./certs.js')).certsCommand,
  },
  udev: {
    summary: 'print udev rules that give a USB serial device a stable name',
    load: async () => (await import('./udev.js')).udevCommand,
  },
};

export const HELP = `Usage: sidecar-destruct <command> [options]

Pods that delete themselves when their node stops matching their nodeSelector / required node affinity.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join('\n')}

Run 'sidecar-destruct <command> --help' for a command's options.
`;

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.stdout(HELP);
    return command === undefined ? EXIT_BAD_INPUT : 0;
  }
  try {
    const entry = COMMANDS[command];
    if (!entry || !Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command "${command}"`);
    return await (await entry.load())(args, io);
  } catch (e) {
    // parseArgs signals bad flags with a TypeError carrying an ERR_PARSE_ARGS_* code.
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (e instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) {
      return io.fail(`${(e as Error).message} (see 'sidecar-destruct ${command} --help')`);
    }
    throw e;
  }
}
