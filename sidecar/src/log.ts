/**
 * Structured JSON logs, one object per line, with fixed context (pod, node) on every line. Called as the project's
 * `Log` is (core/src/log.ts): fields first, then the message.
 */
import type { Log, LogFields } from '@sidecar-destruct/core';

export function createLogger(
  context: LogFields,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Log {
  const emit = (level: keyof Log, fields: LogFields, msg: string): void => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...context, ...fields })}\n`);
  };
  return {
    info: (fields, msg) => emit('info', fields, msg),
    warn: (fields, msg) => emit('warn', fields, msg),
    error: (fields, msg) => emit('error', fields, msg),
  };
}
