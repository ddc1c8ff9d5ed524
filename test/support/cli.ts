// Running the `analyze` CLI (or any child process) from a test: one place that starts it in a hermetic
// environment — run directories in a temporary ESR_RUNS_DIR, no API keys or judge endpoints from the
// developer's shell — and, when the exit is not the expected one, fails with the command, its exit code or
// signal, and its whole stderr, so one failure is enough to diagnose.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { Console } from 'node:console';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import { STOP_AT_ENV, type StopAt, STOPPED_LINE } from './stop-at.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ANALYZE = join(ROOT, 'bin', 'analyze.js');
/** tsx's loader, for `node --import` in any working directory. */
export const TSX = import.meta.resolve('tsx');
const STOP_AT = import.meta.resolve('./stop-at.ts');

export interface RunOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Variables set (a string) or removed (undefined) on top of the hermetic environment. */
  env?: Record<string, string | undefined>;
  /** ESR_RUNS_DIR, where commands put run directories they name themselves (default: a new temporary directory). */
  runsDir?: string;
  /** Written to the child's stdin. */
  input?: string;
}

export interface RunResult {
  /** The command line as it could be pasted into a shell (with the variables the test set). */
  command: string;
  cwd: string;
  /** Exit code, or null when a signal ended the process. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started (or its output could not be collected). */
  error?: Error;
}

/** What a command reads from the environment that the shell running the suite may have set: keys and
 * endpoints of the remote judges (with them set, a command would leave the offline judge), the project's own
 * ESR_* variables (ESR_DEBUG adds stack traces to stderr), a scheduler's shard index (inside a SLURM array
 * or a Kubernetes Indexed Job, a command would run one shard only), and the test runner's marker (a
 * `node --test` started by a test would refuse to run its files). */
const FROM_THE_SHELL = /^((ANTHROPIC|OPENAI|ESR|SLURM_ARRAY)_|JOB_COMPLETION_INDEX$|NODE_TEST_CONTEXT$)/;

/** The environment a test's child process gets: this process's, minus FROM_THE_SHELL, plus ESR_RUNS_DIR. */
export function hermeticEnv(o: RunOptions = {}): { env: NodeJS.ProcessEnv; set: Record<string, string> } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!FROM_THE_SHELL.test(k)) env[k] = v;
  const set: Record<string, string> = { ESR_RUNS_DIR: o.runsDir ?? mkdtempSync(join(tmpdir(), 'esr-runs-')) };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v !== undefined) set[k] = v;
    else {
      delete set[k];
      delete env[k];
    }
  }
  return { env: { ...env, ...set }, set };
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`);

function commandLine(file: string, args: string[], set: Record<string, string>): string {
  const vars = Object.entries(set).map(([k, v]) => `${k}=${/KEY|TOKEN|SECRET/.test(k) ? '…' : quote(v)}`);
  return [...vars, file === process.execPath ? 'node' : file, ...args].map(quote).join(' ');
}

/** Runs `file args` to completion (output up to 1 GiB each is kept whole). */
export function runCommand(file: string, args: string[], o: RunOptions = {}): RunResult {
  const { env, set } = hermeticEnv(o);
  const cwd = o.cwd ?? ROOT;
  const r = spawnSync(file, args, { cwd, env, input: o.input, encoding: 'utf8', maxBuffer: 1 << 30 });
  return {
    command: commandLine(file, args, set),
    cwd,
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    ...(r.error ? { error: r.error } : {}),
  };
}

/** Runs `analyze args` to completion. */
export const runCli = (args: string[], o: RunOptions = {}): RunResult =>
  runCommand(process.execPath, [ANALYZE, ...args], o);

/**
 * Runs `analyze args` in this process, as runCli would in a child: the same hermetic environment (set for the
 * run, then restored), its working directory (the repository root unless `cwd`), console output captured,
 * the exit code the process would have. For refusals (exit 2 before any work), where a process of its own is not the point: a
 * child costs seconds of start-up, this one the first call's imports only. Runs that do work, hold locks,
 * write from worker threads or are killed keep real processes.
 */
export async function runCliInProcess(args: string[], o: Omit<RunOptions, 'input'> = {}): Promise<RunResult> {
  const { runAnalyze } = await import('../../analyses/main.ts');
  const { env, set } = hermeticEnv(o);
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new Writable({
      write(chunk, _encoding, done) {
        into.push(String(chunk));
        done();
      },
    });
  const saved = { env: { ...process.env }, console: globalThis.console, cwd: process.cwd() };
  const setEnv = (to: NodeJS.ProcessEnv) => {
    for (const k of Object.keys(process.env)) if (!(k in to)) delete process.env[k];
    Object.assign(process.env, to);
  };
  setEnv(env);
  globalThis.console = new Console({ stdout: sink(out), stderr: sink(err) });
  const cwd = o.cwd ?? ROOT;
  process.chdir(cwd);
  let status: number;
  try {
    status = await runAnalyze(args);
  } finally {
    process.chdir(saved.cwd);
    globalThis.console = saved.console;
    setEnv(saved.env);
  }
  return {
    command: `${commandLine('analyze', args, set)}  # in-process`,
    cwd,
    status,
    signal: null,
    stdout: out.join(''),
    stderr: err.join(''),
  };
}

/** Runs TypeScript `code` (an ES module, run through tsx) in a child Node process. */
export const runTs = (code: string, o: RunOptions = {}): RunResult =>
  runCommand(process.execPath, ['--import', TSX, '--input-type=module', '-e', code], o);

const tail = (s: string, n: number): string => (s.length > n ? `…${s.slice(-n)}` : s);

/** The run for a failure message: command, directory, how it ended, the whole stderr and stdout's end. */
export function describeRun(r: RunResult): string {
  const ended = r.error
    ? `failed: ${r.error.message}`
    : r.signal
      ? `was killed by ${r.signal}`
      : `exited with code ${r.status}`;
  return [
    `$ ${r.command}`,
    `(in ${r.cwd}) ${ended}`,
    `--- stderr (${r.stderr.length} characters) ---`,
    r.stderr.trimEnd(),
    `--- stdout (${r.stdout.length} characters${r.stdout.length > 4000 ? ', the last 4000' : ''}) ---`,
    tail(r.stdout, 4000).trimEnd(),
    '---',
  ].join('\n');
}

/** Fails, describing the whole run, unless it exited with `status` (and its stderr matches `stderr`). */
export function assertExit(r: RunResult, status: number, stderr?: RegExp): void {
  if (r.error || r.signal || r.status !== status) assert.fail(`expected exit code ${status}\n${describeRun(r)}`);
  if (stderr && !stderr.test(r.stderr)) assert.fail(`expected stderr to match ${stderr}\n${describeRun(r)}`);
}

export interface RunningCli {
  pid: number;
  /** Resolves once the process has paused at its stopAt point; rejects, describing the run, if it ended first. */
  stopped: Promise<void>;
  /** Resolves with the first match of `pattern` in the output so far or to come (stdout, then stderr); rejects,
   * describing the run, if it ends without one. */
  printed(pattern: RegExp): Promise<RegExpMatchArray>;
  /** The finished run, however it ended. */
  exited: Promise<RunResult>;
  /** Lets a paused process go on. */
  resume(): void;
  /** SIGKILLs the process (a crash) and waits for it to be gone. */
  kill(): Promise<RunResult>;
}

/**
 * Starts `analyze args` without waiting for it. With `stopAt`, the process pauses right after that file
 * operation (test/support/stop-at.ts) until the test resumes or kills it.
 */
export function startCli(args: string[], o: RunOptions & { stopAt?: StopAt } = {}): RunningCli {
  return startCommand(
    process.execPath,
    o.stopAt ? ['--import', TSX, '--import', STOP_AT, ANALYZE, ...args] : [ANALYZE, ...args],
    { ...o, env: { ...o.env, ...(o.stopAt ? { [STOP_AT_ENV]: JSON.stringify(o.stopAt) } : {}) } },
  );
}

/** Starts `file args` without waiting for it, in the hermetic environment. */
export function startCommand(file: string, args: string[], o: RunOptions = {}): RunningCli {
  const { env, set } = hermeticEnv(o);
  const cwd = o.cwd ?? ROOT;
  const child: ChildProcessWithoutNullStreams = spawn(file, args, { cwd, env });
  const result: RunResult = {
    command: commandLine(file, args, set),
    cwd,
    status: null,
    signal: null,
    stdout: '',
    stderr: '',
  };
  const waiting = new Set<() => void>(); // printed() calls not yet answered, checked on each output
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    result.stdout += d;
    for (const check of waiting) check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    result.stderr += d;
    for (const check of waiting) check();
  });
  child.stdin.on('error', () => {}); // a process that exits before reading its stdin
  const exited = new Promise<RunResult>((done) => {
    child.on('error', (err) => (result.error = err));
    child.on('close', (status, signal) => {
      result.status = status;
      result.signal = signal;
      done(result);
    });
  });
  const printed = (pattern: RegExp, what = `output matching ${pattern}`): Promise<RegExpMatchArray> => {
    const found = new Promise<RegExpMatchArray>((ok) => {
      const check = () => {
        const m = pattern.exec(result.stdout) ?? pattern.exec(result.stderr);
        if (m) {
          waiting.delete(check);
          ok(m);
        }
      };
      waiting.add(check);
      check();
    });
    const ended = exited.then((r) => {
      throw new assert.AssertionError({ message: `ended before its ${what}\n${describeRun(r)}` });
    });
    return Promise.race([found, ended]);
  };
  const stopped = printed(new RegExp(STOPPED_LINE), 'stop point').then(() => {});
  stopped.catch(() => {}); // only an error for tests that wait for it
  // a test that fails while the process is paused must not leave it holding this file's test process open
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    pid: child.pid!,
    stopped,
    printed,
    exited,
    resume: () => child.stdin.end('go'),
    kill: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}
