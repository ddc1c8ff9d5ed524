// `npm run test:repeat -- N`: runs the whole suite (`npm test`) N times on a clean clone of the current
// commit, to find tests whose result depends on timing, load, ports, the clock, test order or another
// test's leftovers. Each run starts from a clean checkout (git clean) with its own TMPDIR; with --load,
// CPU-bound processes run beside it. Reports each run's result, duration, load average and the names of
// the tests that failed, and files a run left in the checkout; exits 1 if any run failed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { failedTests, summaryCount } from './test-log.ts';

const USAGE = `usage: npm run test:repeat -- N [options]
  N                      how many times to run the suite (default 5)
  --load                 run CPU-bound processes beside every run (--load-processes, default one per core)
  --load-every K         only every K-th run under load (with --load; default 1: all)
  --load-processes P     how many load processes
  --link-modules         link node_modules (and notebooks/kernel/node_modules) from this checkout instead of npm ci
  --run-timeout MIN      kill a run that takes longer than MIN minutes and count it failed (default: no limit)
  --files F...           run only these test files (node --test, spec reporter) instead of npm test (after N)
  --keep                 keep the clone, logs and temporary directories (kept anyway when a run fails)`;

/** The arguments with each file after `--files` given its own `--files` (parseArgs takes one value per flag). */
function filesSpread(argv: string[]): string[] {
  const out: string[] = [];
  let inFiles = false;
  for (const a of argv) {
    if (a.startsWith('-')) inFiles = a === '--files';
    else if (inFiles && out[out.length - 1] !== '--files') out.push('--files');
    out.push(a);
  }
  return out;
}

const { values, positionals } = parseArgs({
  args: filesSpread(process.argv.slice(2)),
  allowPositionals: true,
  options: {
    load: { type: 'boolean', default: false },
    'load-every': { type: 'string', default: '1' },
    'load-processes': { type: 'string', default: String(availableParallelism()) },
    'link-modules': { type: 'boolean', default: false },
    'run-timeout': { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
    files: { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const positiveInt = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`test:repeat: ${name}: expected an integer ≥ ${min}, found ${JSON.stringify(text)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const runs = positiveInt('N', positionals[0] ?? '5', 1);
const loadEvery = positiveInt('--load-every', values['load-every'], 1);
const loadProcesses = positiveInt('--load-processes', values['load-processes'], 1);
const runTimeoutMs = positiveInt('--run-timeout', values['run-timeout'], 0) * 60_000;

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 }).trim();
const source = git(process.cwd(), 'rev-parse', '--show-toplevel');
const commit = git(source, 'rev-parse', 'HEAD');
if (git(source, 'status', '--porcelain', '--untracked-files=no'))
  console.error('test:repeat: warning: uncommitted changes are not tested (the clone is of the last commit)');

const work = mkdtempSync(join(tmpdir(), 'esr-test-repeat-'));
const repo = join(work, 'repo');
console.log(
  `test:repeat: ${runs} runs of ${values.files.length ? values.files.join(' ') : 'npm test'} on ${commit.slice(0, 12)}, in ${repo}`,
);
git(work, 'clone', '--quiet', '--no-checkout', source, repo);
try {
  git(repo, 'checkout', '--quiet', '--detach', commit);
} catch {
  git(repo, 'fetch', '--quiet', 'origin', commit); // a commit on no branch of the source
  git(repo, 'checkout', '--quiet', '--detach', commit);
}

/** Dependency folders kept across runs (everything else untracked is cleaned before each run). */
const MODULE_DIRS = ['node_modules', 'notebooks/kernel/node_modules'];

interface RunReport {
  run: number;
  load: boolean;
  ok: boolean;
  timedOut: boolean;
  exit: string;
  minutes: number;
  tests: number | null;
  failed: number | null;
  skipped: number | null;
  loadAvg: { mean: number; max: number };
  failures: string[];
  leftovers: string[];
  /** Processes the suite started and left running when it ended (pid and command line). */
  running: string[];
  log: string;
}

/** Files a run left in the checkout (outside the dependency folders): shared state between runs. */
function leftovers(): string[] {
  const outside = MODULE_DIRS.map((d) => `:(exclude)${d}`);
  const status = git(repo, 'status', '--porcelain', '--ignored', '--untracked-files=all', '--', '.', ...outside);
  return status
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3))
    .filter((p) => !MODULE_DIRS.some((d) => p === d || p.startsWith(`${d}/`)));
}

function clean(): void {
  git(repo, 'checkout', '--quiet', '--force', commit);
  git(repo, 'clean', '-xdffq', ...MODULE_DIRS.flatMap((d) => ['-e', d]));
}

/** Outlives test:repeat only to end what it started: it SIGKILLs the process groups named on its stdin
 * (`+pgid` when one starts, `-pgid` once it is gone) when its stdin ends, which happens however test:repeat
 * ends — a SIGKILL or a closed terminal included — so no load process or suite is left running unwatched. */
const REAPER = `const groups = new Set(); let rest = '';
process.stdin.setEncoding('utf8').on('data', (d) => {
  const lines = (rest + d).split('\\n'); rest = lines.pop();
  for (const l of lines) l[0] === '+' ? groups.add(Number(l.slice(1))) : groups.delete(Number(l.slice(1)));
}).on('end', () => { for (const g of groups) try { process.kill(-g, 'SIGKILL'); } catch {} });`;
const reaper = spawn(process.execPath, ['-e', REAPER], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
reaper.unref();

const children = new Set<ChildProcess>();
/** SIGKILLs a process group (a started command and whatever it started), and tells the reaper it is gone. */
const killGroup = (c: ChildProcess): void => {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  children.delete(c);
  reaper.stdin!.write(`-${c.pid}\n`);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(signal, () => {
    for (const c of children) killGroup(c);
    console.error(
      `\ntest:repeat: ${signal === 'SIGINT' ? 'interrupted' : `ended by ${signal}`}; the clone is left in ${work}`,
    );
    process.exit(130);
  });

/** Processes still running in a finished command's group (its session: `detached` made it the leader of
 * one): what the suite started and did not end. */
function leftRunning(c: ChildProcess): string[] {
  try {
    return execFileSync('ps', ['-s', String(c.pid), '-o', 'pid=,stat=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^\d+ Z/.test(l)) // exited, waiting for their parent to collect them
      .map((l) => l.replace(/^(\d+) \S+ +/, '$1 '));
  } catch {
    return []; // ps exits 1 when none is found
  }
}

/** Starts a process in a group of its own (so a timeout or ^C ends its children too); `logged` resolves once
 * its output (with `log`) is all written. */
function start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log?: string } = {}) {
  const c = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: opts.log ? ['ignore', 'pipe', 'pipe'] : 'ignore',
  });
  children.add(c);
  reaper.stdin!.write(`+${c.pid}\n`);
  let logged = Promise.resolve();
  if (opts.log) {
    const out = createWriteStream(opts.log);
    logged = new Promise((done) => out.on('close', () => done()));
    let open = 2;
    for (const stream of [c.stdout!, c.stderr!]) {
      stream.pipe(out, { end: false });
      stream.on('end', () => --open === 0 && out.end());
    }
  }
  return { child: c, logged };
}

async function runOnce(run: number, underLoad: boolean): Promise<RunReport> {
  clean();
  const tmp = join(work, `tmp-${run}`);
  mkdirSync(tmp);
  const log = join(work, `run-${run}.log`);
  const loads = underLoad
    ? Array.from({ length: loadProcesses }, () => start(process.execPath, ['-e', 'for (;;) {}']).child)
    : [];
  const samples: number[] = [loadavg()[0]];
  const sampler = setInterval(() => samples.push(loadavg()[0]), 15_000);
  const began = Date.now();
  console.log(
    `run ${run}/${runs}${underLoad ? ` (with ${loadProcesses} CPU-bound process${loadProcesses > 1 ? 'es' : ''} beside it: pid ${loads.map((l) => l.pid).join(', ')})` : ''}: started ${new Date().toISOString()}, log ${log}`,
  );
  const [cmd, ...args] = values.files.length
    ? [process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', ...values.files]
    : ['npm', 'test'];
  const { NODE_TEST_CONTEXT: _, ...env } = process.env; // run from a test, the suite must still run its files
  const { child, logged } = start(cmd, args, { cwd: repo, env: { ...env, TMPDIR: tmp }, log });
  let timedOut = false;
  const timer =
    runTimeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          process.kill(-child.pid!, 'SIGKILL');
        }, runTimeoutMs)
      : null;
  // 'exit', not 'close': a process the suite left behind may hold its output open
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('exit', (c, s) => done([c, s])),
  );
  if (timer) clearTimeout(timer);
  const running = timedOut ? [] : leftRunning(child);
  killGroup(child);
  await logged;
  clearInterval(sampler);
  for (const l of loads) killGroup(l);
  samples.push(loadavg()[0]);
  const text = readFileSync(log, 'utf8');
  const failed = summaryCount(text, 'fail');
  const report: RunReport = {
    run,
    load: underLoad,
    ok: code === 0 && !timedOut,
    timedOut,
    exit: timedOut ? `killed after ${runTimeoutMs / 60_000} min` : signal ? signal : `exit ${code}`,
    minutes: (Date.now() - began) / 60_000,
    tests: summaryCount(text, 'tests'),
    failed,
    skipped: summaryCount(text, 'skipped'),
    loadAvg: {
      mean: samples.reduce((a, b) => a + b, 0) / samples.length,
      max: Math.max(...samples),
    },
    failures: failedTests(text),
    leftovers: leftovers(),
    running,
    log,
  };
  const leftInTmp = readdirSync(tmp).filter((f) => !/^tsx-/.test(f)).length; // tsx's compile cache aside
  if (report.ok && !values.keep) rmSync(tmp, { recursive: true, force: true });
  console.log(
    `run ${run}/${runs}: ${report.ok ? 'PASS' : 'FAIL'} (${report.exit}) in ${report.minutes.toFixed(1)} min; ` +
      `${report.tests ?? '?'} tests, ${failed ?? '?'} failed, ${report.skipped ?? '?'} skipped; ` +
      `load average ${report.loadAvg.mean.toFixed(1)} (max ${report.loadAvg.max.toFixed(1)}) on ${availableParallelism()} cores; ` +
      `${leftInTmp} entries left in its TMPDIR by tests`,
  );
  for (const f of report.failures) console.log(`  failed: ${f}`);
  if (report.leftovers.length)
    console.log(
      `  left in the checkout: ${report.leftovers.slice(0, 20).join(', ')}${report.leftovers.length > 20 ? ', …' : ''}`,
    );
  for (const p of report.running) console.log(`  left running (now killed): ${p}`);
  return report;
}

/** `npm ci` in `prefix`, a started process like the runs (so ^C or a kill ends it too), its output in a log. */
async function npmCi(prefix: string, log: string): Promise<void> {
  console.log(`installing ${prefix} with npm ci, log ${log}`);
  const { child, logged } = start('npm', ['ci', '--no-audit', '--no-fund', '--prefix', prefix], { cwd: repo, log });
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  killGroup(child);
  await logged;
  if (code === 0) return;
  console.error(readFileSync(log, 'utf8').slice(-4000));
  console.error(
    `test:repeat: npm ci --prefix ${prefix} failed (exit ${code}; log ${log}); the clone is left in ${work}`,
  );
  process.exit(2);
}

if (values['link-modules']) {
  for (const dir of MODULE_DIRS)
    if (existsSync(join(source, dir))) symlinkSync(join(source, dir), join(repo, dir), 'dir');
} else {
  await npmCi(repo, join(work, 'npm-ci.log'));
  if (existsSync(join(repo, 'notebooks/kernel/package-lock.json')))
    await npmCi(join(repo, 'notebooks/kernel'), join(work, 'npm-ci-kernel.log'));
}

const reports: RunReport[] = [];
for (let run = 1; run <= runs; run++) reports.push(await runOnce(run, values.load && (run - 1) % loadEvery === 0));

const failedRuns = reports.filter((r) => !r.ok);
console.log(
  `\ntest:repeat: ${reports.length - failedRuns.length} of ${reports.length} runs passed on ${commit.slice(0, 12)}`,
);
console.log('| run | load | result | minutes | tests | failed | skipped | load average (mean / max) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of reports)
  console.log(
    `| ${r.run} | ${r.load ? 'yes' : 'no'} | ${r.ok ? 'pass' : `FAIL (${r.exit})`} | ${r.minutes.toFixed(1)} | ${r.tests ?? '?'} | ${r.failed ?? '?'} | ${r.skipped ?? '?'} | ${r.loadAvg.mean.toFixed(1)} / ${r.loadAvg.max.toFixed(1)} |`,
  );
const flaky = new Map<string, number>();
for (const r of failedRuns) for (const f of r.failures) flaky.set(f, (flaky.get(f) ?? 0) + 1);
for (const [name, n] of flaky) console.log(`failed in ${n} of ${reports.length} runs: ${name}`);
if (failedRuns.length || values.keep) console.log(`logs and the clone: ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(failedRuns.length ? 1 : 0);
