/** Structured JSON logs, one object per line, with fixed context (pod, node) on every line. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export function createLogger(
  context: Fields,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const emit = (level: Level, msg: string, fields?: Fields): void => {
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...context, ...fields })}\n`);
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}
