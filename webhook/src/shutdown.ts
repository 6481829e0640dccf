/**
 * Stopping within the pod's termination grace period. `fastify.close()` alone waits for every keep-alive
 * connection: a connection that is busy when the close begins goes idle afterwards and then lingers until the
 * server's keep-alive timeout (72 s in Fastify), so after a burst of reviews the close alone outlasts the pod's
 * 30 s grace period and ends in SIGKILL. Here reviews in flight are finished, connections are closed as soon as
 * they go idle, and whatever is still open at the deadline is closed by force.
 */
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** How often connections that went idle during the close are swept. */
const SWEEP_MS = 100;

export async function closeWithin(app: FastifyInstance, deadlineMs: number): Promise<'drained' | 'forced'> {
  // https.Server has the same connection methods as http.Server.
  const server = app.server as Server;
  let forced = false;
  const sweep = setInterval(() => server.closeIdleConnections(), SWEEP_MS);
  const force = setTimeout(() => {
    forced = true;
    server.closeAllConnections();
  }, deadlineMs);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(force);
  }
  return forced ? 'forced' : 'drained';
}
