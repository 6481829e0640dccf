/** Entry point of `npm run demo` (scripts/demo.sh): the narrated stories, see command.ts. */
import { demoCommand } from './command.js';

const EXIT_BAD_INPUT = 2;

let code: number;
try {
  code = await demoCommand(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    fail: (message) => {
      process.stderr.write(`demo: ${message.replaceAll('\n', ' ')}\n`);
      return 1;
    },
  });
} catch (e) {
  // parseArgs signals bad flags with a TypeError carrying an ERR_PARSE_ARGS_* code; anything else is a bug.
  if (!((e as NodeJS.ErrnoException).code ?? '').startsWith('ERR_PARSE_ARGS')) throw e;
  process.stderr.write(`demo: ${(e as Error).message} (see 'npm run demo -- --help')\n`);
  code = EXIT_BAD_INPUT;
}
// The stories' servers and watches are stopped by then; nothing of theirs may keep the process alive.
process.exit(code);
