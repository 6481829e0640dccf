/**
 * Entry point of the sidecar container (bundled into dist/sidecar.cjs) and of `sidecar-destruct sidecar`.
 * Reads the env contract, finds the API server, and runs until SIGTERM or SIGINT.
 */
import { parseArgs } from 'node:util';
import {
  backoffDelay,
  DEFAULT_SETTINGS,
  ENV,
  err,
  formatDuration,
  type Log,
  ok,
  parseSidecarEnv,
  type Result,
  SERVICE_ACCOUNT_DIR,
} from '@sidecar-destruct/core';
import { Api } from './api.js';
import { type Connection, fromKubeconfig, inCluster } from './credentials.js';
import { createLogger } from './log.js';
import { type Clock, runSidecar } from './sidecar.js';

/**
 * What each variable of the env contract carries, for `--help`. Keyed by the contract's own list (core/src/env.ts),
 * so a variable added there does not compile until it is described here.
 */
const ENV_HELP: { readonly [K in keyof typeof ENV]: string } = {
  nodeName: 'the node the pod runs on (downward API)',
  podName: "the pod's name (downward API)",
  podNamespace: "the pod's namespace (downward API)",
  podUid: "the pod's uid (downward API)",
  rule: 'the rule the node must match, as JSON',
  gracePeriod: `how long a mismatch must last before acting (default ${formatDuration(DEFAULT_SETTINGS.gracePeriodMs)})`,
  nfdOutageGracePeriod: `how long to hold off while NFD reports nothing for the node (default ${formatDuration(DEFAULT_SETTINGS.nfdOutageGracePeriodMs)})`,
  action: `delete or evict the pod (default ${DEFAULT_SETTINGS.action})`,
  dryRun: `true: report the mismatch, never act (default ${DEFAULT_SETTINGS.dryRun})`,
};

const envHelp = (): string => {
  const width = Math.max(...Object.values(ENV).map((name) => name.length));
  return (Object.keys(ENV) as (keyof typeof ENV)[])
    .map((key) => `  ${ENV[key].padEnd(width)}  ${ENV_HELP[key]}`)
    .join('\n');
};

export const SIDECAR_HELP = `Usage: sidecar-destruct sidecar [--kubeconfig FILE]

Watches this pod's node and deletes (or evicts) this pod when the node stops matching the pod's rule.
Injected by the webhook; run by hand only for tests and demos.

Configuration comes from the environment the webhook writes:
${envHelp()}

Credentials: in a cluster, the mounted ServiceAccount token (re-read as the kubelet rotates it) and CA;
otherwise --kubeconfig FILE or $KUBECONFIG (token, tokenFile or client certificate).

Options:
  --kubeconfig FILE            use this kubeconfig instead of the in-cluster ServiceAccount
  --service-account-dir DIR    where the in-cluster token and ca.crt are (default ${SERVICE_ACCOUNT_DIR});
                               for tests that play the kubelet
  -h, --help                   show this help
`;

/**
 * How every sidecar process runs the bundle: the container image (images/build.sh), the e2e harness, the
 * benchmarks and the demo. The runtime is Bun (scripts/bun.sh brings the version in .bun-version), chosen by
 * measurement (README, "The sidecar's footprint"). It never installs a package on its own (`--no-install`) and
 * keeps no transpiler cache on disk: the bundle is above Bun's 50 kB threshold for one, and the container's root
 * filesystem is read-only.
 */
export const SIDECAR_RUNTIME: {
  readonly flags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
} = {
  flags: ['--no-install'],
  env: { BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' },
};

/** Each watch asks the server for a timeout between this and twice it (client-go's reflector: 5–10 min). */
const MIN_WATCH_TIMEOUT_SECONDS = 300;
/** A request (not a watch) that has not answered in this time is abandoned. */
const REQUEST_TIMEOUT_MS = 10_000;

interface Args {
  readonly kubeconfig?: string | undefined;
  readonly 'service-account-dir'?: string | undefined;
  readonly help?: boolean | undefined;
}

function parseCommandLine(argv: string[]): Result<Args> {
  try {
    return ok(
      parseArgs({
        args: argv,
        options: {
          kubeconfig: { type: 'string' },
          'service-account-dir': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      }).values,
    );
  } catch (e) {
    return err((e as Error).message);
  }
}

/** Time as the decision needs it. Monotonic: a wall-clock step (NTP fixing a Pi's clock at boot) ends no grace period. */
const CLOCK: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer: (fn, ms) => {
    // setTimeout overflows past 2^31-1 ms: wake early and let the decision ask for another wake.
    const timer = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** Aborts on SIGTERM or SIGINT. */
function terminationSignal(log: Log): AbortSignal {
  const controller = new AbortController();
  // A Node process as PID 1 gets no default signal handlers: without these, every pod deletion would wait out
  // its termination grace period.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'terminating');
      controller.abort();
    });
  }
  return controller.signal;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseCommandLine(argv);
  if (!args.ok) {
    process.stderr.write(`sidecar-destruct sidecar: ${args.error}\n`);
    return 2;
  }
  if (args.value.help) {
    process.stdout.write(SIDECAR_HELP);
    return 0;
  }
  const contract = parseSidecarEnv(env);
  if (!contract.ok) {
    createLogger({}).error(
      { errors: contract.error },
      'invalid configuration; the webhook writes these variables',
    );
    return 2;
  }
  const { identity } = contract.value;
  const log = createLogger({ pod: `${identity.podNamespace}/${identity.podName}`, node: identity.nodeName });
  const kubeconfig = args.value.kubeconfig ?? (env.KUBERNETES_SERVICE_HOST ? undefined : env.KUBECONFIG);
  const connection = kubeconfig
    ? await fromKubeconfig(kubeconfig)
    : await inCluster(env, args.value['service-account-dir'] ?? SERVICE_ACCOUNT_DIR);
  if (!connection.ok) {
    log.error({ error: connection.error }, 'no credentials for the API server');
    return 2;
  }
  const signal = terminationSignal(log);
  const api = new Api(connection.value, { requestTimeoutMs: REQUEST_TIMEOUT_MS, signal });
  const serviceAccount = await serviceAccountOf(connection.value);
  await runSidecar(
    contract.value,
    {
      api,
      ...(serviceAccount ? { serviceAccount } : {}),
      clock: CLOCK,
      log,
      retryDelay: (attempt, retryAfterMs) => backoffDelay(attempt, Math.random, retryAfterMs),
      watch: { random: Math.random, minTimeoutSeconds: MIN_WATCH_TIMEOUT_SECONDS, sleep },
      // performance.now() counts from the start of the process.
      onWatching: () => log.info({ startupMs: Math.round(performance.now()) }, 'watching the node'),
    },
    signal,
  );
  return 0;
}

/** The ServiceAccount a bound token was issued for (its `sub` claim), to name it in advice; undefined if unknown. */
export async function serviceAccountOf(
  connection: Pick<Connection, 'token'>,
): Promise<{ namespace: string; name: string } | undefined> {
  try {
    const token = await connection.token();
    const payload = token?.split('.')[1];
    if (!payload) return undefined;
    const sub: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')).sub;
    const match = typeof sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub) : null;
    return match ? { namespace: match[1] ?? '', name: match[2] ?? '' } : undefined;
  } catch {
    return undefined;
  }
}
