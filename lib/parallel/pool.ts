// Executors of model tasks: in-process, or a pool of worker threads each with its own WASM backend
// (tfjs-wasm runs one thread per instance in Node, so workers are how a run uses every core).
import { Worker } from 'node:worker_threads';
import type { Backend, BackendSpec } from '../backend.ts';
import { InputError } from '../errors.ts';
import type { GeneratedRow } from '../model/generate.ts';
import type { WeightChoice } from '../model/load.ts';
import type { Intervention } from '../steering/types.ts';
import { type GenerateTask, type Loaded, type OnRow, runTask, type Task, type TaskResult } from './tasks.ts';

export interface ExecutorSpec {
  model: string;
  /** A LoRA adapter directory applied as the model loads, or null. */
  adapter?: string | null;
  /** How the weights are held (--dtype, --quantize). */
  weights?: WeightChoice;
  sae: string | null;
  /** The backend each worker opens for itself (the session's spec). */
  backend: BackendSpec;
}

export interface Executor {
  /** How many tasks run at once. */
  readonly size: number;
  /** Runs a task; a generate task reports each prompt to `onRow` as it finishes. */
  run<T extends Task>(task: T, onRow?: OnRow): Promise<TaskResult<T>>;
  close(): Promise<void>;
}

/** Runs tasks on already-loaded model and SAE in this thread. */
export function localExecutor(loaded: Loaded): Executor {
  return {
    size: 1,
    run: async <T extends Task>(task: T, onRow?: OnRow) => (await runTask(loaded, task, onRow)) as TaskResult<T>,
    close: async () => {},
  };
}

type Reply = {
  id: number;
  result?: unknown;
  error?: string;
  input?: boolean;
  /** A finished prompt of a generate task, sent before the task's result. */
  row?: { index: number } & GeneratedRow;
};
type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void; onRow?: OnRow };

/**
 * Worker threads taking queued tasks one at a time each. A worker that dies (an uncaught error, or exit)
 * stops the pool: the task it was running and every queued task are rejected with an error naming the
 * worker and the task, later `run` calls reject with it too, and tasks on the other workers finish.
 */
class WorkerPool implements Executor {
  private readonly idle: Worker[] = [];
  private readonly queue: ({ task: Task } & Waiter)[] = [];
  private readonly pending = new Map<number, { kind: Task['kind'] } & Waiter>();
  /** The task id each busy worker runs. */
  private readonly running = new Map<Worker, number>();
  private readonly dead = new Set<Worker>();
  private failure: Error | null = null;
  private closing = false;
  private nextId = 0;

  constructor(private readonly workers: Worker[]) {
    workers.forEach((w, i) => {
      const name = `worker thread ${i + 1} of ${workers.length}`;
      w.on('message', (m: Reply) => this.settle(w, m));
      w.on('error', (err) => this.crash(w, `${name} failed (${err.message})`, err));
      w.on('exit', (code) => this.crash(w, `${name} exited (code ${code})`));
      this.idle.push(w);
    });
  }

  get size(): number {
    return this.workers.length;
  }

  run<T extends Task>(task: T, onRow?: OnRow): Promise<TaskResult<T>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (v: unknown) => void, reject, onRow });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (!this.failure && this.idle.length && this.queue.length) {
      const worker = this.idle.shift()!;
      const { task, resolve, reject, onRow } = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, { kind: task.kind, resolve, reject, onRow });
      this.running.set(worker, id);
      worker.postMessage({ id, task });
    }
  }

  private settle(worker: Worker, m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.row) {
      const { index, ...row } = m.row;
      p.onRow?.(index, row);
      return;
    }
    this.pending.delete(m.id);
    this.running.delete(worker);
    if (m.error !== undefined) p.reject(m.input ? new InputError(m.error) : new Error(m.error));
    else p.resolve(m.result);
    this.idle.push(worker);
    this.dispatch();
  }

  /** A worker died outside close(): reject its task and the queue, and stop taking tasks. */
  private crash(worker: Worker, what: string, cause?: Error): void {
    if (this.closing || this.dead.has(worker)) return; // 'error' is followed by 'exit': report once
    this.dead.add(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    const id = this.running.get(worker);
    const task = id === undefined ? undefined : this.pending.get(id);
    const err = new Error(
      `${what} ${task ? `while running its ${task.kind} task` : 'while idle'}; the worker pool is stopped`,
      { cause },
    );
    this.failure ??= err;
    if (id !== undefined) {
      this.running.delete(worker);
      this.pending.delete(id);
      task?.reject(err);
    }
    for (const q of this.queue.splice(0)) q.reject(this.failure);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.filter((w) => !this.dead.has(w)).map((w) => w.terminate()));
  }
}

/**
 * Starts `n` worker threads, each loading the model (and SAE) once; resolves when all are ready.
 * `o.entry` is the module each thread runs (default ./worker.ts, whose message protocol it must speak);
 * `o.here` is this thread's backend, when one is open.
 */
export async function workerPool(
  spec: ExecutorSpec,
  n: number,
  o: { here?: Backend; entry?: string } = {},
): Promise<Executor> {
  const entry = o.entry ?? new URL('./worker.ts', import.meta.url).href;
  if (spec.backend.choice === 'webgpu' || o.here?.kind === 'webgpu') {
    throw new InputError(
      `--workers ${n}: worker threads each run a model copy on their own WASM instance; on WebGPU one process drives the GPU (use --workers 0)`,
    );
  }
  const workers = Array.from(
    { length: n },
    () => new Worker(new URL('./boot.mjs', import.meta.url), { workerData: { entry, spec } }),
  );
  const started = workers.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        const onMessage = (m: { ready: boolean; error?: string; input?: boolean }) => {
          stop();
          if (m.ready) resolve();
          else reject(m.input ? new InputError(m.error!) : new Error(m.error));
        };
        const onError = (err: Error) => {
          stop();
          reject(err);
        };
        const onExit = (code: number) => {
          stop();
          reject(new Error(`worker thread exited (code ${code}) while loading ${spec.model}`));
        };
        const stop = () => w.off('message', onMessage).off('error', onError).off('exit', onExit);
        w.on('message', onMessage).on('error', onError).on('exit', onExit);
      }),
  );
  try {
    await Promise.all(started);
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  }
  return new WorkerPool(workers);
}

/**
 * Runs tasks with up to `executor.size` in flight and hands each result to `onResult` in task order,
 * so what gets written does not depend on which worker finished first.
 */
export async function runOrdered<T extends Task>(
  executor: Executor,
  tasks: T[],
  onResult: (result: TaskResult<T>, index: number) => void | Promise<void>,
): Promise<void> {
  const inFlight: Promise<TaskResult<T>>[] = [];
  let next = 0;
  const launch = () => {
    while (next < tasks.length && inFlight.length < executor.size + 1) {
      const p = executor.run(tasks[next++]);
      p.catch(() => {}); // surfaced when awaited in order; this only stops an early failure leaving others unhandled
      inFlight.push(p);
    }
  };
  launch();
  for (let i = 0; i < tasks.length; i++) {
    const result = await inFlight.shift()!;
    launch();
    await onResult(result, i);
  }
}

/** One prompt to generate: token ids, its sampling seed, and its interventions. */
export interface GenerationRow {
  prompt: number[];
  seed: number;
  interventions?: Intervention[];
}

/**
 * Generates every row on the executor: one task per worker (contiguous shares), each continuously batched
 * over `options.batch` KV cache slots; `onRow(i, row)` as row i finishes, in no fixed order. A row's tokens
 * depend only on its own prompt, seed and interventions, not on how rows are shared out or batched.
 */
export async function generateRows(
  executor: Executor,
  rows: GenerationRow[],
  options: Omit<GenerateTask['options'], 'seeds'>,
  onRow: OnRow,
): Promise<void> {
  const share = Math.ceil(rows.length / executor.size);
  const tasks: Promise<unknown>[] = [];
  for (let from = 0; from < rows.length; from += share) {
    const part = rows.slice(from, from + share);
    const task: GenerateTask = {
      kind: 'generate',
      prompts: part.map((r) => r.prompt),
      options: { ...options, seeds: part.map((r) => r.seed) },
      interventions: part.some((r) => r.interventions?.length) ? part.map((r) => r.interventions ?? []) : undefined,
    };
    const p = executor.run(task, (i, row) => onRow(from + i, row));
    p.catch(() => {}); // surfaced by the Promise.all below; this only keeps an early failure from going unhandled
    tasks.push(p);
  }
  await Promise.all(tasks);
}
