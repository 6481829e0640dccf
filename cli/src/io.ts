import type { CommandIo } from '@sidecar-destruct/udev';

/** What a command may do to the outside world (the udev command's interface, which every command takes). */
export type Io = CommandIo;

/** A mistake in the command line: the dispatcher prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {}

export const EXIT_BAD_INPUT = 2;

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  fail: (message) => {
    process.stderr.write(`sidecar-destruct: ${message.replaceAll('\n', ' ')}\n`);
    return EXIT_BAD_INPUT;
  },
};
