/** Entry point of `npm run demo` (scripts/demo.sh): the narrated stories, see command.ts. */
import { demoCommand } from './command.js';

const code = await demoCommand(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  fail: (message) => {
    process.stderr.write(`demo: ${message.replaceAll('\n', ' ')}\n`);
    return 1;
  },
  env: process.env,
});
// The stories' servers and watches are stopped by then; nothing of theirs may keep the process alive.
process.exit(code);
