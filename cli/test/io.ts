/** An Io that records what a command printed and the failures it reported, reading `files` instead of disk. */
import type { Io } from '../src/io.js';

export function recordingIo(files: Record<string, string> = {}): {
  io: Io;
  out: () => string;
  failures: string[];
} {
  let out = '';
  const failures: string[] = [];
  const io: Io = {
    stdout: (text) => {
      out += text;
    },
    fail: (message) => {
      failures.push(message);
      return 2;
    },
    env: {},
    readText: async (path: string) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return text;
    },
  };
  return { io, out: () => out, failures };
}
