/**
 * From raw samples to tables: pure functions, no I/O. `npm run bench` writes the raw samples
 * (`bench/results/{reaction,memory,admission,mass,images}.json`) and the tables computed from them (`bench.json`,
 * `bench.md`); the README's blocks are the same summaries as named figures (`readmeFigures`), worded by short
 * templates (`bench/readme.ts` writes them), and the unit test `test/unit/bench-results.test.ts` recomputes both
 * from the raw files, so that no figure can drift.
 */

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<readonly (string | number)[]>;
  readonly notes?: readonly string[];
}

export function markdown(table: Table): string {
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.join(' | ')} |`),
    ...(table.notes?.length ? ['', ...table.notes] : []),
    '',
  ].join('\n');
}

/** Linear interpolation between closest ranks (the "R-7" definition, as numpy's default). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return num / den;
}

/** A figure with a fixed number of decimals and thousands separators. */
export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '—';
  return Number(x.toFixed(digits)).toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

// --- reaction -------------------------------------------------------------------------------------------------

export type Scenario = 'selector' | 'affinity' | 'hostpath' | 'nofit';

export const SCENARIO_WORDS: Readonly<Record<Scenario, string>> = {
  selector: 'nodeSelector only',
  affinity: 'required node affinity',
  hostpath: 'affinity + hostPath volume',
  nofit: 'affinity, no other node fits',
};

/** The scenarios, in the order every table and every benchmark takes them. */
export const SCENARIOS = Object.keys(SCENARIO_WORDS) as Scenario[];

export interface ReactionTrial {
  readonly scenario: Scenario;
  /** Label removed → pod first seen terminating, in ms; null when it was not within `waitedMs`. */
  readonly reactedMs: number | null;
  readonly waitedMs: number;
}

export interface ReactionApproach {
  /** sidecar-0, sidecar-default, loop, descheduler-5s, descheduler-2m */
  readonly id: string;
  readonly words: string;
  /** How many trials ran at the same time (the descheduler: all of them, one process). */
  readonly atOnce: number;
  readonly trials: readonly ReactionTrial[];
}

export interface ReactionRaw {
  /** The original loop's interval. */
  readonly loopIntervalS: number;
  readonly approaches: readonly ReactionApproach[];
}

export interface ReactionSummary {
  readonly id: string;
  readonly scenario: Scenario;
  readonly acted: number;
  readonly trials: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly waitedMs: number;
}

export function summarizeReaction(raw: ReactionRaw): ReactionSummary[] {
  const out: ReactionSummary[] = [];
  for (const a of raw.approaches) {
    for (const scenario of SCENARIOS) {
      const trials = a.trials.filter((t) => t.scenario === scenario);
      if (trials.length === 0) continue;
      const acted = trials.flatMap((t) => (t.reactedMs === null ? [] : [t.reactedMs]));
      out.push({
        id: a.id,
        scenario,
        acted: acted.length,
        trials: trials.length,
        p50: quantile(acted, 0.5),
        p99: quantile(acted, 0.99),
        max: acted.length ? Math.max(...acted) : Number.NaN,
        waitedMs: Math.min(...trials.map((t) => t.waitedMs)),
      });
    }
  }
  return out;
}

export function reactionTable(raw: ReactionRaw): Table {
  const words = new Map(raw.approaches.map((a) => [a.id, a.words]));
  const atOnce = new Map(raw.approaches.map((a) => [a.id, a.atOnce]));
  return {
    title: 'Reaction: label removed → pod terminating (deleted or evicted), per scenario',
    columns: ['approach', 'trials at once', 'scenario', 'acted / trials', 'p50 ms', 'p99 ms', 'max ms'],
    rows: summarizeReaction(raw).map((s) => [
      words.get(s.id) ?? s.id,
      atOnce.get(s.id) ?? '',
      SCENARIO_WORDS[s.scenario],
      s.acted === 0
        ? `0 / ${s.trials} (none within ${fmt(s.waitedMs / 1_000)} s)`
        : `${s.acted} / ${s.trials}`,
      fmt(s.p50),
      fmt(s.p99),
      fmt(s.max),
    ]),
    notes: [
      'Quantiles over the trials that acted (acted / trials says how many). Each trial has its own node; the label is removed at a random moment after the approach is running, so a poller is met at a random phase of its interval.',
      'A pod counts as acted on when the API server first reports it terminating (a watch on the pods), which delete and eviction both do. The clock starts as the label PATCH is sent, so every figure includes that request.',
      'Trials at once: how many ran side by side (the descheduler: one process for all its trials, their removals spread at random over several of its intervals: bench/run.ts sets how many).',
    ],
  };
}

// --- memory ---------------------------------------------------------------------------------------------------

export interface MemorySample {
  /** ms since the processes were started. */
  readonly tMs: number;
  /** One entry per process (a bash loop counts its kubectl children at that moment): kB. */
  readonly processes: ReadonlyArray<{ readonly rss: number; readonly pss: number; readonly uss: number }>;
}

export interface MemoryRun {
  /** sidecar (shipped, on Bun), sidecar-node, bare-bun, kubectl-loop, descheduler */
  readonly id: string;
  readonly words: string;
  readonly n: number;
  readonly sampleEveryMs: number;
  readonly samples: readonly MemorySample[];
}

export interface MemoryRaw {
  readonly durationMs: number;
  /** Samples before this are start-up, not steady state. */
  readonly steadyAfterMs: number;
  readonly runs: readonly MemoryRun[];
}

export interface MemorySummary {
  readonly id: string;
  readonly n: number;
  /** Means over the steady samples of the totals over the processes, MB. */
  readonly pss: number;
  readonly uss: number;
  readonly rss: number;
  /** The largest RSS any one process had in any sample, MB. */
  readonly peakRss: number;
  readonly samples: number;
  readonly everyMs: number;
}

const MB = 1_024;

export function summarizeMemory(raw: MemoryRaw): MemorySummary[] {
  return raw.runs.map((run) => {
    const steady = run.samples.filter((s) => s.tMs >= raw.steadyAfterMs);
    const total = (key: 'rss' | 'pss' | 'uss') =>
      mean(steady.map((s) => s.processes.reduce((a, p) => a + p[key], 0))) / MB;
    return {
      id: run.id,
      n: run.n,
      pss: total('pss'),
      uss: total('uss'),
      rss: total('rss'),
      peakRss: Math.max(...run.samples.flatMap((s) => s.processes.map((p) => p.rss))) / MB,
      samples: steady.length,
      everyMs: run.sampleEveryMs,
    };
  });
}

/**
 * What processes of a kind cost the machine: the first one (total PSS at N = 1: alone, it shares its binary with
 * nobody), each additional one (the slope of total PSS over N), and the private memory of one (USS per process at
 * the largest N; at N = 1 the binary's pages count as private, so USS is no slope). MB.
 */
export interface ProcessIncrement {
  readonly first: number;
  readonly pss: number;
  readonly uss: number;
  /** The Ns the slope is taken over. */
  readonly ns: readonly number[];
}

export function perProcessIncrement(raw: MemoryRaw, id: string): ProcessIncrement {
  const runs = summarizeMemory(raw)
    .filter((s) => s.id === id)
    .sort((a, b) => a.n - b.n);
  const last = runs.at(-1);
  return {
    first: runs.find((r) => r.n === 1)?.pss ?? Number.NaN,
    pss: slope(runs.map((r) => [r.n, r.pss])),
    uss: last ? last.uss / last.n : Number.NaN,
    ns: runs.map((r) => r.n),
  };
}

export function memoryTable(raw: MemoryRaw): Table {
  const words = new Map(raw.runs.map((r) => [r.id, r.words]));
  const summaries = summarizeMemory(raw);
  const rows: Array<Array<string | number>> = summaries.map((s) => [
    words.get(s.id) ?? s.id,
    s.n,
    fmt(s.pss, 1),
    fmt(s.uss, 1),
    fmt(s.pss / s.n, 1),
    fmt(s.peakRss, 1),
    `${s.samples} (${fmt(s.everyMs / 1_000, 1)} s)`,
  ]);
  for (const id of new Set(summaries.filter((s) => s.n > 1).map((s) => s.id))) {
    const inc = perProcessIncrement(raw, id);
    rows.push([
      `${words.get(id) ?? id}: each additional process (PSS: slope over N = ${inc.ns.join(', ')}; USS: per process at N = ${inc.ns.at(-1)})`,
      '',
      fmt(inc.pss, 1),
      fmt(inc.uss, 1),
      '',
      '',
      '',
    ]);
  }
  return {
    title: `Memory as the node sees it: N processes of one kind side by side, sampled for ${fmt(raw.durationMs / 60_000, 1)} min`,
    columns: [
      'processes',
      'N',
      'total PSS MB',
      'total USS MB',
      'PSS per process MB',
      'peak RSS of one MB',
      'samples (every)',
    ],
    rows,
    notes: [
      `From /proc/PID/smaps_rollup. Totals are means over the samples taken ${fmt(raw.steadyAfterMs / 1_000)} s or more after start. PSS divides shared pages among the processes that map them (the sum over a machine is its memory use); USS counts only pages no other process maps.`,
      'Each kind of process (the sidecars on Bun, the sidecars on Node, the bare Bun baseline) runs from its own copy of its runtime binary, so that the pages they share are shared with no other process (a container image brings its own copy too).',
    ],
  };
}

// --- admission ------------------------------------------------------------------------------------------------

export interface AdmissionRun {
  /** echo or webhook */
  readonly server: string;
  readonly logLevel: string;
  /** Requests per second asked of the load generator; 0: as fast as it can with `workers` connections. */
  readonly rate: number;
  readonly workers: number;
  readonly durationS: number;
  /** Per request, in order: latency in µs and the HTTP status (0: no response). */
  readonly latenciesUs: readonly number[];
  readonly codes: readonly number[];
}

export interface AdmissionRaw {
  readonly reviewBytes: number;
  /** Seconds of load before each measured attack, discarded. */
  readonly warmUpS: number;
  readonly runs: readonly AdmissionRun[];
}

export interface AdmissionSummary {
  readonly server: string;
  readonly logLevel: string;
  readonly rate: number;
  readonly workers: number;
  /** Requests per second over the measured attack. */
  readonly achieved: number;
  /** Latency, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly samples: number;
  /** Requests answered with anything but 200, or not at all. */
  readonly failed: number;
}

export function summarizeAdmission(raw: AdmissionRaw): AdmissionSummary[] {
  return raw.runs.map((r) => {
    const ms = r.latenciesUs.map((u) => u / 1_000);
    return {
      server: r.server,
      logLevel: r.logLevel,
      rate: r.rate,
      workers: r.workers,
      achieved: r.latenciesUs.length / r.durationS,
      p50: quantile(ms, 0.5),
      p99: quantile(ms, 0.99),
      max: Math.max(...ms),
      samples: r.latenciesUs.length,
      failed: r.codes.filter((c) => c !== 200).length,
    };
  });
}

export function admissionTable(raw: AdmissionRaw): Table {
  return {
    title: `Admission: POST /mutate over TLS, one core for the server, one for the load generator (${raw.reviewBytes}-byte review)`,
    columns: [
      'server',
      'log level',
      'offered rate',
      'achieved requests/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'samples',
      'failed',
    ],
    rows: summarizeAdmission(raw).map((s) => [
      s.server === 'echo' ? 'Fastify echo (baseline)' : 'sidecar-destruct webhook',
      s.logLevel,
      s.rate === 0 ? `max (${s.workers} connections)` : `${fmt(s.rate)}/s`,
      fmt(s.achieved),
      fmt(s.p50, 3),
      fmt(s.p99, 3),
      fmt(s.max, 1),
      s.samples,
      s.failed,
    ]),
    notes: [
      'Load generator: vegeta (open loop at a fixed rate; latency per request in nanoseconds). `info` is the production log level: one JSON line per review, written to a pipe that is read, as a container runtime reads it; `warn` writes none.',
      `Each attack follows a ${raw.warmUpS} s warm-up at the same rate (discarded); results are encoded after it.`,
      'The "max" rows send as fast as vegeta can on its one core; TLS on the client side costs about what it costs the server, so they are a floor for what the server can do, not its ceiling. The fixed-rate rows are the latency figures.',
    ],
  };
}

// --- mass action ----------------------------------------------------------------------------------------------

export interface MassRun {
  /** sidecar or descheduler-5s */
  readonly approach: string;
  readonly words: string;
  readonly n: number;
  /** Per pod: label removed → pod terminating, ms; null when not within the wait. */
  readonly reactedMs: ReadonlyArray<number | null>;
  /** API requests per minute on nodes, pods and events beyond the watches, while idle before the removal. */
  readonly idleRequestsPerMinute: number;
  /** apiserver_request_total (nodes, pods, events; not WATCH) before and after the idle window, for the audit. */
  readonly idleRequests: readonly [number, number];
}

export interface MassRaw {
  readonly idleWindowMs: number;
  readonly runs: readonly MassRun[];
}

export interface MassSummary {
  readonly approach: string;
  readonly words: string;
  readonly n: number;
  /** Pods seen terminating within the wait. */
  readonly acted: number;
  /** ms: the first pod terminating, the median one, and the last when all N were (NaN when some were not). */
  readonly first: number;
  readonly p50: number;
  readonly all: number;
  readonly idleRequestsPerMinute: number;
}

export function summarizeMass(raw: MassRaw): MassSummary[] {
  return raw.runs.map((r) => {
    const acted = r.reactedMs.flatMap((x) => (x === null ? [] : [x]));
    return {
      approach: r.approach,
      words: r.words,
      n: r.n,
      acted: acted.length,
      first: Math.min(...acted),
      p50: quantile(acted, 0.5),
      all: acted.length === r.n ? Math.max(...acted) : Number.NaN,
      idleRequestsPerMinute: r.idleRequestsPerMinute,
    };
  });
}

export function massTable(raw: MassRaw): Table {
  return {
    title: `Mass action: one label removed under N pods on one node (idle window ${fmt(raw.idleWindowMs / 1_000)} s before)`,
    columns: ['approach', 'N', 'acted', 'first pod ms', 'p50 ms', 'all N ms', 'idle requests/min'],
    rows: summarizeMass(raw).map((s) => [
      s.words,
      s.n,
      `${s.acted} / ${s.n}`,
      fmt(s.first),
      fmt(s.p50),
      fmt(s.all),
      fmt(s.idleRequestsPerMinute, 1),
    ]),
    notes: [
      "Idle requests: apiserver_request_total on nodes, pods and events, every verb but WATCH, over the idle window, less the benchmark's one control GET in it (the counts before and after are in mass.json).",
      'The descheduler is met at a random phase of its interval (a random wait of up to one interval after the window); after its first eviction the rest drain at its client rate limit.',
    ],
  };
}

// --- images -------------------------------------------------------------------------------------------------

export interface ImagesRaw {
  readonly images: ReadonlyArray<{
    readonly name: string;
    readonly digest: string;
    readonly platforms: ReadonlyArray<{
      readonly architecture: string;
      /** In order: what each layer's history says made it, its blob's size and the size of its regular files. */
      readonly layers: ReadonlyArray<{
        readonly createdBy: string;
        readonly compressedBytes: number;
        readonly unpackedBytes: number;
      }>;
    }>;
  }>;
}

export interface ImageSize {
  readonly image: string;
  readonly architecture: string;
  /** MB (10^6 bytes), as registries and `docker images` count. */
  readonly unpacked: number;
  readonly compressed: number;
  /** The runtime layer's files alone. */
  readonly runtime: number;
}

export function imageSizes(raw: ImagesRaw): ImageSize[] {
  return raw.images.flatMap((image) =>
    image.platforms.map((p) => ({
      image: image.name,
      architecture: p.architecture,
      unpacked: p.layers.reduce((sum, l) => sum + l.unpackedBytes, 0) / 1e6,
      compressed: p.layers.reduce((sum, l) => sum + l.compressedBytes, 0) / 1e6,
      runtime: (p.layers.find((l) => /node-v|bun-/.test(l.createdBy))?.unpackedBytes ?? Number.NaN) / 1e6,
    })),
  );
}

export function imagesTable(raw: ImagesRaw): Table {
  return {
    title:
      'The images a node pulls: per platform, unpacked (files on the node) and compressed (the download)',
    columns: ['image', 'platform', 'unpacked MB', 'of which the runtime MB', 'compressed MB'],
    rows: imageSizes(raw).map((s) => [
      s.image,
      `linux/${s.architecture}`,
      fmt(s.unpacked, 1),
      fmt(s.runtime, 1),
      fmt(s.compressed, 1),
    ]),
  };
}

// --- all of it ------------------------------------------------------------------------------------------------

interface RunContext {
  readonly started: string;
  readonly machine: string;
  readonly smoke: boolean;
  readonly versions: Readonly<Record<string, string>>;
}

export interface BenchRaw {
  readonly admission: (AdmissionRaw & RunContext) | null;
  readonly reaction: (ReactionRaw & RunContext) | null;
  readonly memory: (MemoryRaw & RunContext) | null;
  readonly mass: (MassRaw & RunContext) | null;
  readonly images: (ImagesRaw & RunContext) | null;
}

/**
 * The runtime a run's sidecars ran on, as the run recorded it; a run that records none ran them on Node 24 (the
 * result files stay readable without the field).
 */
export const sidecarRuntimeOf = (run: RunContext | null): string =>
  run?.versions.sidecar ?? 'Node 24, measured before the sidecar moved to Bun';

/** Where and when the benchmarks whose raw file is there ran: dates, machines, versions. */
function benchHeader(raw: BenchRaw): string {
  const present = [raw.admission, raw.reaction, raw.memory, raw.mass, raw.images].filter((r) => r !== null);
  const versions = Object.assign({}, ...present.map((r) => r.versions)) as Record<string, string>;
  const machines = [...new Set(present.map((r) => r.machine))];
  const dates = present.map((r) => r.started.slice(0, 10)).sort();
  const smoke = present.some((r) => r.smoke) ? ' (smoke: tiny sizes, figures not meaningful)' : '';
  return [
    `sidecar-destruct benchmarks${smoke}: ${[...new Set([dates[0], dates.at(-1)])].join(' to ')}`,
    machines.join('; '),
    Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  ].join('; ');
}

/** The tables of every benchmark whose raw file is there, and a header that says where and when they ran. */
export function benchTables(raw: BenchRaw): { header: string; tables: Table[] } {
  const header = benchHeader(raw);
  const tables: Table[] = [];
  if (raw.reaction) tables.push(reactionTable(raw.reaction));
  if (raw.memory) tables.push(memoryTable(raw.memory));
  if (raw.mass) tables.push(massTable(raw.mass));
  if (raw.admission) tables.push(admissionTable(raw.admission));
  if (raw.images) tables.push(imagesTable(raw.images));
  return { header, tables };
}

// --- the README's figures -------------------------------------------------------------------------------------

interface ReactionFigures {
  /** The runtime the sidecars ran on. */
  readonly sidecarRuntime: string;
  /** The original loop's interval; NaN when not measured. */
  readonly loopIntervalS: number;
  /** The approaches measured: id → the approach as its run words it. */
  readonly words: ReadonlyMap<string, string>;
  readonly summaries: readonly ReactionSummary[];
}

/** Steady-state memory of a kind that runs once (MB; NaN when not measured). */
interface SteadyMemory {
  readonly pss: number;
  readonly peakRss: number;
}

interface MemoryFigures {
  readonly sidecar: ProcessIncrement;
  readonly bareBun: ProcessIncrement;
  /** The same bundle on Node, when the run measured it. */
  readonly sidecarOnNode: ProcessIncrement | null;
  readonly loop: SteadyMemory;
  readonly descheduler: SteadyMemory;
  /** The largest RSS any one sidecar reached, MB. */
  readonly sidecarPeakRss: number;
}

interface MassFigures {
  readonly sidecarRuntime: string;
  /** The Ns measured, in order. */
  readonly ns: readonly number[];
  readonly summaries: readonly MassSummary[];
}

interface AdmissionFigures {
  /** The fixed rates measured, in order (the as-fast-as-it-can runs are rate 0). */
  readonly rates: readonly number[];
  readonly summaries: readonly AdmissionSummary[];
}

/** Every figure the README quotes, computed from the raw samples; a benchmark with no raw file reads as NaN (—). */
interface ReadmeFigures {
  /** Where and when the runs ran, as bench.md's header says it. */
  readonly header: string;
  readonly reaction: ReactionFigures;
  readonly memory: MemoryFigures;
  readonly mass: MassFigures;
  readonly admission: AdmissionFigures;
  /** The sidecar image per platform, when the images were measured. */
  readonly sidecarImages: readonly ImageSize[] | null;
}

/** A kind the run did not measure. */
const UNMEASURED: ProcessIncrement = { first: Number.NaN, pss: Number.NaN, uss: Number.NaN, ns: [] };

/** What one more sidecar (and its baselines) costs, from the memory run if there is one. */
function memoryFigures(raw: MemoryRaw | null): MemoryFigures {
  const summaries = raw ? summarizeMemory(raw) : [];
  const increment = (id: string) => (raw ? perProcessIncrement(raw, id) : UNMEASURED);
  const steady = (id: string): SteadyMemory => {
    const s = summaries.find((x) => x.id === id);
    return { pss: s?.pss ?? Number.NaN, peakRss: s?.peakRss ?? Number.NaN };
  };
  return {
    sidecar: increment('sidecar'),
    bareBun: increment('bare-bun'),
    sidecarOnNode: raw?.runs.some((r) => r.id === 'sidecar-node') ? increment('sidecar-node') : null,
    loop: steady('kubectl-loop'),
    descheduler: steady('descheduler'),
    sidecarPeakRss: Math.max(...summaries.filter((s) => s.id === 'sidecar').map((s) => s.peakRss)),
  };
}

/** The summaries the README quotes, named. */
function readmeFigures(raw: BenchRaw): ReadmeFigures {
  const mass = raw.mass ? summarizeMass(raw.mass) : [];
  const admission = raw.admission ? summarizeAdmission(raw.admission) : [];
  return {
    header: benchHeader(raw),
    reaction: {
      sidecarRuntime: sidecarRuntimeOf(raw.reaction),
      loopIntervalS: raw.reaction?.loopIntervalS ?? Number.NaN,
      words: new Map(raw.reaction?.approaches.map((a) => [a.id, a.words])),
      summaries: raw.reaction ? summarizeReaction(raw.reaction) : [],
    },
    memory: memoryFigures(raw.memory),
    mass: {
      sidecarRuntime: sidecarRuntimeOf(raw.mass),
      ns: [...new Set(mass.map((s) => s.n))],
      summaries: mass,
    },
    admission: {
      rates: [...new Set(admission.map((s) => s.rate).filter((r) => r > 0))],
      summaries: admission,
    },
    sidecarImages: raw.images ? imageSizes(raw.images).filter((s) => /\/sidecar:/.test(s.image)) : null,
  };
}

// The wording: each figure in words, then the blocks as templates over them.

const row = (...cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const mb = (x: number): string => fmt(x, 1);

/** One approach's reaction in one scenario: its quantiles, or how many of its trials never acted. */
function reactionWords(s: ReactionSummary | undefined): string {
  if (!s) return 'not measured';
  if (s.acted === 0) return `never (0 of ${s.trials} within ${fmt(s.waitedMs / 1_000)} s)`;
  const some = s.acted < s.trials ? `${s.acted} of ${s.trials} acted: ` : '';
  // Under 100 samples a p99 is the largest but one: say max.
  const tail = s.acted >= 100 ? `p99 ${fmt(s.p99)} ms` : `max ${fmt(s.max)} ms`;
  return `${some}p50 ${fmt(s.p50)} ms, ${tail} (n = ${s.acted})`;
}

/** The reaction of approach `id` in `scenario`, in words. */
const reactionOf = (f: ReactionFigures, id: string, scenario: Scenario) =>
  reactionWords(f.summaries.find((s) => s.id === id && s.scenario === scenario));

/** The measured approaches among `ids`, each named without its family (the column says it) and its reaction. */
function reactionCell(f: ReactionFigures, ids: readonly string[], scenario: Scenario): string {
  return ids
    .filter((id) => f.words.has(id))
    .map((id) => {
      const name = (f.words.get(id) ?? id).replace(/^(sidecar-destruct|descheduler|original loop), /, '');
      return `${name}: ${reactionOf(f, id, scenario)}`;
    })
    .join('; ');
}

/** Per N: how long until all its pods were terminating, or how many were. */
const massWords = (f: MassFigures, approach: string): string =>
  f.summaries
    .filter((s) => s.approach === approach)
    .map((s) => (s.acted === s.n ? `N = ${s.n}: ${fmt(s.all)} ms` : `N = ${s.n}: ${s.acted} of ${s.n}`))
    .join('; ');

/** Per N: API requests per minute while idle. */
const idleWords = (f: MassFigures, approach: string): string =>
  f.summaries
    .filter((s) => s.approach === approach)
    .map((s) => fmt(s.idleRequestsPerMinute, 1))
    .join(' / ');

/** One admission run: requests per second when sent as fast as possible (rate 0), latency quantiles at a rate. */
function admissionWords(f: AdmissionFigures, server: string, logLevel: string, rate: number): string {
  const s = f.summaries.find((x) => x.server === server && x.logLevel === logLevel && x.rate === rate);
  if (!s) return 'not measured';
  if (rate === 0) return `${fmt(s.achieved)} req/s`;
  return `p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms (n = ${fmt(s.samples)})`;
}

/** A kind's memory: the first process on a node; each additional; private per process. */
const costWords = (inc: ProcessIncrement): string =>
  `${mb(inc.first)} MB; ${mb(inc.pss)} MB; ${mb(inc.uss)} MB`;

const OURS = ['sidecar-default', 'sidecar-0'];
const THEIRS = ['descheduler-5s', 'descheduler-2m'];
const LOOP = ['loop'];

/** "How it compares": the three approaches side by side, one row per property. */
function compareBlock({ reaction, memory, mass }: ReadmeFigures): string {
  const { sidecar, bareBun, loop, descheduler } = memory;
  return [
    '| | sidecar-destruct | descheduler `RemovePodsViolatingNodeAffinity` | the original polling script |',
    '| --- | --- | --- | --- |',
    row(
      'how it notices',
      "a watch on the pod's own Node",
      'a periodic run over all pods',
      '`kubectl get nodes -l … --field-selector metadata.name=…` in a loop',
    ),
    ...SCENARIOS.map((scenario) =>
      row(
        `label removed → pod terminating, ${SCENARIO_WORDS[scenario]}`,
        reactionCell(reaction, OURS, scenario),
        reactionCell(reaction, THEIRS, scenario),
        reactionCell(reaction, LOOP, scenario),
      ),
    ),
    row(
      'label removed under N pods on one node → all terminating',
      `${massWords(mass, 'sidecar')} (grace 0 s)`,
      `${massWords(mass, 'descheduler-5s')} (every 5 s)`,
      'one loop per pod',
    ),
    row(
      'memory per pod',
      `${mb(sidecar.pss)} MB for each additional sidecar on a node, ${mb(sidecar.first)} MB for the first (PSS over N = ${sidecar.ns.join(', ')}; a bare Bun process: ${mb(bareBun.pss)} MB); one sidecar's RSS peaks at ${mb(memory.sidecarPeakRss)} MB`,
      'none',
      `${mb(loop.pss)} MB PSS on average (bash, and kubectl while it runs), ${mb(loop.peakRss)} MB at its peak`,
    ),
    row(
      'memory per cluster',
      `${fmt(100 * sidecar.pss)} MB per 100 injected pods, and ${mb(sidecar.first - sidecar.pss)} MB once on each node that runs any (the first sidecar brings the runtime's pages)`,
      `one process (its caches grow with the cluster's pods and nodes; here a test cluster): ${mb(descheduler.pss)} MB PSS, ${mb(descheduler.peakRss)} MB RSS at its peak`,
      'as the sidecar, per pod',
    ),
    row(
      `idle API requests/min beyond watches, N = ${mass.ns.join(' / ')}`,
      idleWords(mass, 'sidecar'),
      idleWords(mass, 'descheduler-5s'),
      `${fmt(60 / reaction.loopIntervalS)} per pod (one \`kubectl get\` per interval)`,
    ),
    row(
      'a failed API request',
      'waits and retries; acts only on a read sent after the grace period',
      'retries at its next run',
      'counted as "label gone": deletes the pod',
    ),
    row(
      'scope',
      'opted-in pods; `nodeSelector` and required affinity, or a selector annotation',
      'by default: pods with an owner, required affinity, when another node fits, without local storage (hostPath, emptyDir)',
      'one label',
    ),
  ].join('\n');
}

/** "Measured": each figure next to its baseline from the same run, and the script that measured it. */
function measuredBlock({ header, reaction, memory, mass, admission, sidecarImages }: ReadmeFigures): string {
  const { sidecar, bareBun, sidecarOnNode } = memory;
  const reacted = (id: string) => reactionOf(reaction, id, 'affinity');
  const echo = (rate: number) => `Fastify echo: ${admissionWords(admission, 'echo', '—', rate)}`;
  const webhook = (rate: number) =>
    `${admissionWords(admission, 'webhook', 'info', rate)} (\`warn\`: ${admissionWords(admission, 'webhook', 'warn', rate)})`;
  const onNode = sidecarOnNode
    ? ` (the same bundle on Node 24, measured, not shipped: ${costWords(sidecarOnNode)})`
    : '';
  const ns = mass.ns.join(' / ');
  return [
    `From \`npm run bench\` (${header}). Every figure below is computed from the raw samples in \`bench/results/\`; the tables with sample counts are in \`bench/results/bench.md\`.`,
    '',
    '| measure | baseline in the same run | sidecar-destruct | script |',
    '| --- | --- | --- | --- |',
    row(
      'label removed → pod terminating, required affinity',
      `original loop: ${reacted('loop')}; descheduler every 5 s: ${reacted('descheduler-5s')}`,
      `sidecar on ${reaction.sidecarRuntime}: \`grace-period: 0s\`: ${reacted('sidecar-0')}; default: ${reacted('sidecar-default')}`,
      '`bench/reaction.ts`',
    ),
    row(
      `memory an injected pod costs a node: the first on it; each additional (PSS slope over N = ${sidecar.ns.join(', ')}); private (USS) per process`,
      `bare idle Bun: ${costWords(bareBun)}`,
      `on Bun (shipped): ${costWords(sidecar)}${onNode}`,
      '`bench/memory.ts`',
    ),
    row(
      'admission requests/s with vegeta sending as fast as it can from one core (a floor for the server, see bench.md)',
      echo(0),
      webhook(0),
      '`bench/admission.ts`',
    ),
    ...admission.rates.map((rate) =>
      row(`admission latency at ${fmt(rate)} req/s`, echo(rate), webhook(rate), '`bench/admission.ts`'),
    ),
    row(
      `label removed under N = ${ns} pods → all terminating`,
      `descheduler every 5 s: ${massWords(mass, 'descheduler-5s')}`,
      `sidecar on ${mass.sidecarRuntime}: ${massWords(mass, 'sidecar')}`,
      '`bench/mass.ts`',
    ),
    row(
      `idle API requests/min beyond the watches, N = ${ns}`,
      `descheduler: ${idleWords(mass, 'descheduler-5s')}`,
      idleWords(mass, 'sidecar'),
      '`bench/mass.ts`',
    ),
    ...(sidecarImages ? [imagesRow(sidecarImages)] : []),
  ].join('\n');
}

/** The sidecar image per platform: unpacked and compressed, and the runtime's share. */
function imagesRow(sidecar: readonly ImageSize[]): string {
  const perPlatform = (f: (s: ImageSize) => string) =>
    sidecar.map((s) => `${s.architecture} ${f(s)}`).join('; ');
  return row(
    'the sidecar image a node pulls, per platform: unpacked; compressed',
    `its runtime alone (\`bun\`): ${perPlatform((s) => `${mb(s.runtime)} MB`)}`,
    perPlatform((s) => `${mb(s.unpacked)} MB; ${mb(s.compressed)} MB`),
    '`bench/images.ts`',
  );
}

/** The README's blocks, worded from the raw samples; `bench/readme.ts` writes them between their markers. */
export function readmeBlocks(raw: BenchRaw): Record<string, string> {
  const figures = readmeFigures(raw);
  return { compare: compareBlock(figures), measured: measuredBlock(figures) };
}

/** The README with its benchmark blocks replaced: between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. */
export function renderReadme(readme: string, blocks: Record<string, string>): string {
  let out = readme;
  for (const [name, text] of Object.entries(blocks)) {
    const re = new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`);
    if (!re.test(out)) throw new Error(`README has no <!-- bench:${name} --> block`);
    out = out.replace(re, (_, open: string, close: string) => `${open}${text}\n${close}`);
  }
  return out;
}
