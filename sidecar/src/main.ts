/**
 * Entry point of the sidecar container (bundled into dist/sidecar.cjs) and of `sidecar-destruct sidecar`.
 * Reads the env contract, finds the API server, and runs until SIGTERM or SIGINT.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  backoffDelay,
  DEFAULT_SETTINGS,
  ENV,
  formatDuration,
  kubeConfigSource,
  type Log,
  parseSidecarEnv,
  type Result,
  readCommandLine,
  SERVICE_ACCOUNT_DIR,
  settingsHelp,
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

/** The sidecar's own flags; its configuration is the env contract above. */
export const SIDECAR_SETTINGS = {
  kubeconfig: {
    flag: 'kubeconfig',
    default: '',
    help: "a kubeconfig (token, tokenFile or client certificate) instead of the pod's own account",
  },
  serviceAccountDir: {
    flag: 'service-account-dir',
    default: SERVICE_ACCOUNT_DIR,
    help: 'where the in-cluster token and ca.crt are; for tests that play the kubelet',
  },
} as const;

export const SIDECAR_HELP = settingsHelp(
  'sidecar-destruct sidecar [--kubeconfig FILE]',
  `Watches this pod's node and deletes (or evicts) this pod when the node stops matching the pod's rule.
Injected by the webhook; run by hand only for tests and demos.

Configuration comes from the environment the webhook writes:
${envHelp()}

Credentials, as every command finds them (core/src/kubeconfig.ts), its own account first: --kubeconfig FILE,
else in a pod the mounted ServiceAccount token (re-read as the kubelet rotates it) and CA, else $KUBECONFIG or
~/.kube/config.`,
  SIDECAR_SETTINGS,
);

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

/** The API server, found as every command finds it, the pod's own account first (core/src/kubeconfig.ts). */
async function connect(
  flag: string | undefined,
  serviceAccountDir: string,
  env: NodeJS.ProcessEnv,
): Promise<Result<Connection>> {
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const source = kubeConfigSource(flag, env, existsSync(home) ? home : undefined, { inClusterFirst: true });
  if (!source.ok) return source;
  if (source.value.kind === 'in-cluster') return inCluster(env, serviceAccountDir);
  // The sidecar's own client reads one file: the first of a KUBECONFIG list, as kubectl takes its current context.
  return fromKubeconfig(
    source.value.kind === 'file' ? source.value.path : ((env.KUBECONFIG ?? '').split(delimiter)[0] ?? ''),
  );
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const line = readCommandLine(SIDECAR_SETTINGS, argv, env);
  if (!line.ok) {
    process.stderr.write(`sidecar-destruct sidecar: ${line.error.join('; ')}\n`);
    return 2;
  }
  if (line.value.help) {
    process.stdout.write(SIDECAR_HELP);
    return 0;
  }
  const { read } = line.value;
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
  const connection = await connect(read.optional('kubeconfig'), read.raw('serviceAccountDir'), env);
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
