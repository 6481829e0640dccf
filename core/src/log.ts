/**
 * The one logger shape of the project, in pino's argument order (fields first, then the message), which Fastify's
 * `request.log` and `app.log` already have: the webhook passes its Fastify logger where a `Log` is asked for, and
 * the sidecar's own JSON-lines logger (sidecar/src/log.ts) takes the same arguments. Types only.
 */

/** What a log line carries besides its message: keys chosen by the caller, values serialised as JSON. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Log {
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}
