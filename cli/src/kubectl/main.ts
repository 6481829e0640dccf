/** Entry point of `kubectl-sidecar_destruct` (kubectl runs it as `kubectl sidecar-destruct …`): see plugin.ts. */
import { EXIT_BAD_INPUT, processIo, UsageError } from '../io.js';
import { pluginCommand } from './plugin.js';

const io = {
  ...processIo,
  fail: (message: string) => {
    process.stderr.write(`kubectl sidecar-destruct: ${message.replaceAll('\n', ' ')}\n`);
    return EXIT_BAD_INPUT;
  },
};

try {
  process.exitCode = await pluginCommand(process.argv.slice(2), io);
} catch (e) {
  const usage =
    e instanceof UsageError || ((e as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS');
  io.fail(
    usage
      ? `${(e as Error).message} (see 'kubectl sidecar-destruct --help')`
      : `unexpected error: ${(e as Error).message}`,
  );
  process.exitCode = EXIT_BAD_INPUT;
}
