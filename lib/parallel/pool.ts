// Executors of model tasks: in-process, or a pool of worker threads each with its own WASM backend
// (tfjs-wasm runs one thread per instance in Node, so workers are how a run uses every core).
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../backend.ts';
import { InputError } from '../errors.ts';
import { type Loaded, runTask, type Task, type TaskResult } from './tasks.ts';

export interface ExecutorSpec {
  model: string;
  sae: string | null;
  backend: BackendChoice;
}

export interface Executor {
  /** How many tasks run at once. */
  readonly size: number;
  run<T extends Task>(task: T): Promise<TaskResult<T>>;
  close(): Promise<void>;
}

/** Runs tasks on already-loaded model and SAE in this thread. */
export function localExecutor(loaded: Loaded): Executor {
  return {
    size: 1,
    run: async <T extends Task>(task: T) => runTask(loaded, task) as TaskResult<T>,
    close: async () => {},
  };
}

type Reply = { id: number; result?: unknown; error?: string; input?: boolean };

class WorkerPool implements Executor {
  private readonly idle: Worker[] = [];
  private readonly queue: { task: Task; resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: Reply) => this.settle(w, m));
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  run<T extends Task>(task: T): Promise<TaskResult<T>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.idle.length && this.queue.length) {
      const worker = this.idle.shift()!;
      const { task, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, task });
    }
  }

  private settle(worker: Worker, m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error !== undefined) p.reject(m.input ? new InputError(m.error) : new Error(m.error));
    else p.resolve(m.result);
    this.idle.push(worker);
    this.dispatch();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Starts `n` worker threads, each loading the model (and SAE) once; resolves when all are ready. */
export async function workerPool(spec: ExecutorSpec, n: number): Promise<Executor> {
  const entry = new URL('./worker.ts', import.meta.url).href;
  const workers = Array.from({ length: n }, () => new Worker(new URL('./boot.mjs', import.meta.url), { workerData: { entry, spec } }));
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.once('message', (m: { ready: boolean; error?: string; input?: boolean }) => {
        if (m.ready) resolve();
        else reject(m.input ? new InputError(m.error!) : new Error(m.error));
      });
      w.once('error', reject);
    })));
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
export async function runOrdered<T extends Task>(executor: Executor, tasks: T[], onResult: (result: TaskResult<T>, index: number) => void | Promise<void>): Promise<void> {
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
