/**
 * The Fastify app: routes only decode, call and encode. `buildApp` never listens; tests drive it with
 * `app.inject()`, and main.ts listens with TLS.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { ADMISSION_DEADLINE_MS, type AdmitDeps, admit } from './admit.js';
import { createMetrics, type Metrics } from './metrics.js';
import { type AdmissionRequest, errored, parseReview } from './pure/review.js';
import { REASONS } from './pure/should-inject.js';

export interface AppOptions extends AdmitDeps {
  /** TLS key and certificate; main.ts passes them, `app.inject()` tests may leave them out. */
  readonly https?: { readonly key: Buffer; readonly cert: Buffer };
  readonly logger?: FastifyServerOptions['logger'] | FastifyBaseLogger;
  /** False before the webhook can answer (its ConfigMap unread) and while draining: the Service sends it no reviews. */
  readonly ready?: () => boolean;
  /** How long a review may wait on the API server (default ADMISSION_DEADLINE_MS; tests shorten it). */
  readonly admissionDeadlineMs?: number;
}

export interface App {
  readonly fastify: FastifyInstance;
  readonly metrics: Metrics;
}

/** Malformed input is a 4xx that says what is wrong (an oversized body names the limit); anything else a 500. */
function handleErrors(fastify: FastifyInstance, metrics: Metrics, bodyLimit: number): void {
  fastify.setErrorHandler(
    (error: { statusCode?: number; code?: string; message: string }, request, reply) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'unexpected error');
        return reply.code(500).send({ error: 'internal error' });
      }
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        metrics.admissions.inc({ outcome: 'malformed', reason: 'body-too-large' });
        return reply.code(400).send({ error: `the request body is over the limit of ${bodyLimit} bytes` });
      }
      metrics.admissions.inc({ outcome: 'malformed', reason: error.code ?? 'bad-request' });
      return reply.code(status).send({ error: error.message });
    },
  );
}

/** The fields of the one log line per review. */
function contextOf(req: AdmissionRequest) {
  const pod = (req.object ?? {}) as { metadata?: { name?: string; generateName?: string } };
  return {
    uid: req.uid,
    namespace: req.namespace,
    pod: pod.metadata?.name ?? (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : undefined),
    operation: req.operation,
    dryRun: req.dryRun,
  };
}

/** POST /mutate: decode, admit within the deadline, count, log one line, encode. */
function routeMutate(fastify: FastifyInstance, metrics: Metrics, options: AppOptions): void {
  // The API server's timeout runs from when it sent the request: the deadline counts from its arrival (headers
  // parsed), not from the handler, which starts only once the body (up to --body-limit) is in.
  const arrived = new WeakMap<object, number>();
  fastify.addHook('onRequest', async (request) => {
    arrived.set(request, performance.now());
  });
  fastify.post('/mutate', async (request, reply) => {
    const started = arrived.get(request) ?? performance.now();
    const parsed = parseReview(request.body);
    if (!parsed.ok) {
      metrics.admissions.inc({ outcome: 'malformed', reason: 'invalid-review' });
      return reply.code(400).send({ error: `not a valid AdmissionReview: ${parsed.error}` });
    }
    const req = parsed.value;
    const context = contextOf(req);
    try {
      const budget = (options.admissionDeadlineMs ?? ADMISSION_DEADLINE_MS) - (performance.now() - started);
      const deadline = AbortSignal.timeout(Math.max(0, Math.floor(budget)));
      const admission = await admit(req, options, deadline);
      metrics.admissions.inc({ outcome: admission.outcome, reason: admission.reason });
      metrics.latency.observe({ outcome: admission.outcome }, (performance.now() - started) / 1_000);
      if (admission.error) metrics.injectionErrors.inc({ stage: 'account' });
      const level = admission.outcome === 'allowed' ? 'debug' : 'info';
      request.log[admission.error ? 'warn' : level](
        {
          ...context,
          decision: admission.outcome,
          reason: admission.reason,
          warnings: admission.review.response.warnings,
          error: admission.error,
        },
        // The reason's sentence (the same table gives the metrics their `reason` label and the warnings their text).
        `admission: ${REASONS[admission.reason]}`,
      );
      return admission.review;
    } catch (e) {
      metrics.admissions.inc({ outcome: 'errored', reason: 'exception' });
      metrics.injectionErrors.inc({ stage: 'exception' });
      request.log.error({ ...context, err: e }, 'admission failed');
      return errored(req.uid, 'sidecar-destruct: internal error while injecting; see the webhook logs');
    }
  });
}

/** Liveness, readiness (503 while draining) and the Prometheus metrics. */
function routeProbes(fastify: FastifyInstance, metrics: Metrics, ready: () => boolean): void {
  fastify.get('/healthz', async () => ({ status: 'ok' }));
  fastify.get('/readyz', async (_request, reply) =>
    ready() ? { status: 'ready' } : reply.code(503).send({ status: 'draining' }),
  );
  fastify.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

export function buildApp(options: AppOptions): App {
  const metrics = createMetrics();
  const base = {
    bodyLimit: options.config.bodyLimit,
    // Never log the request body: it holds whole pod specs. (Through a LogController: the top-level
    // `disableRequestLogging` prints a deprecation warning, a line of plain text among the JSON logs.)
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  };
  const fastify = (
    options.https
      ? Fastify({ ...base, https: { key: options.https.key, cert: options.https.cert } })
      : Fastify(base)
  ) as FastifyInstance;
  // AdmissionReviews are JSON; anything else is refused with 415 rather than parsed as text.
  fastify.removeContentTypeParser('text/plain');
  handleErrors(fastify, metrics, options.config.bodyLimit);
  routeMutate(fastify, metrics, options);
  routeProbes(fastify, metrics, options.ready ?? (() => true));
  return { fastify, metrics };
}
