/** What a command may do to the outside world, passed in so tests drive commands without a process. */
import type { Env } from '@sidecar-destruct/core';
import { type ReadText, readTextFile } from './documents.js';

export interface Io {
  stdout(text: string): void;
  /** Prints a one-line error and returns exit status 2 (bad input). */
  fail(message: string): number;
  /** The environment the command reads its settings from (flags first, then these). */
  readonly env: Env;
  /** Reads a file, or stdin for `-`. */
  readonly readText: ReadText;
}

/** Every subcommand: its arguments after the command's name, and the Io; resolves with the exit status. */
export type Command = (args: readonly string[], io: Io) => Promise<number>;

/** A mistake in the command line: the dispatcher prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {}

export const EXIT_BAD_INPUT = 2;

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  fail: (message) => {
    process.stderr.write(`sidecar-destruct: ${message.replaceAll('\n', ' ')}\n`);
    return EXIT_BAD_INPUT;
  },
  env: process.env,
  readText: readTextFile,
};
