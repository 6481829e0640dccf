/** The kubectl plugin as users get it: the executable scripts/build-plugin.sh compiles for this machine. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BUILD = fileURLToPath(new URL('../../scripts/build-plugin.sh', import.meta.url));

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Builds (or rebuilds, about a second) the plugin for this platform; resolves with the executable's path. */
export async function buildPlugin(): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [BUILD], { maxBuffer: 1 << 20 });
  const path = stdout.trim().split('\n').at(-1)?.split(' ')[1];
  if (!path) throw new Error(`scripts/build-plugin.sh printed no executable: ${stdout}`);
  return path;
}
