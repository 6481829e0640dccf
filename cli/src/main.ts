/** Entry point of the sidecar-destruct command (see cli.ts). */
import { run } from './cli.js';
import { processIo } from './io.js';

const [command] = process.argv.slice(2);
const code = await run(process.argv.slice(2), processIo);
// The servers return once they have shut down; nothing of theirs may keep the process alive. Short commands
// set the exit code instead, so that piped output is flushed first.
if (command === 'webhook' || command === 'sidecar') process.exit(code);
process.exitCode = code;
