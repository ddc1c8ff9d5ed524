// Which shard this process is: given (--shard I/N), or read from the scheduler that started it — a SLURM
// job array (SLURM_ARRAY_TASK_ID: its position in MIN..MAX by STEP, or with --shards N the id itself, which
// survives resubmitting one failed task as --array=3) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX,
// with --shards N: the pod is not told the completion count). The source is kept, so the run can say which
// one was used.
import { InputError, SettingError, settingRef as ref } from '../errors.ts';
import { MAX_SHARDS, type ShardSpec, shardText } from './spec.ts';

export interface Shard extends ShardSpec {
  /** Where the index came from, for the log and shard.json: `--shard 2/8`, `SLURM_ARRAY_TASK_ID=7 (…)`. */
  source: string;
}

export interface ShardRequest {
  /** --shard I/N, or 'none': not sharded whatever the environment says. */
  shard?: ShardSpec | 'none' | null;
  /** --shards N: the count when the scheduler gives only the index. */
  shards?: number | null;
}

type Env = Readonly<Record<string, string | undefined>>;

/** An environment variable's non-negative integer value; undefined when unset or empty. */
function envInt(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw new InputError(`environment variable ${name}=${JSON.stringify(raw)}: expected a non-negative integer`);
  return Number(raw);
}

function checkCount(count: number, what: string): void {
  if (count < 1 || count > MAX_SHARDS) throw new InputError(`${what}: ${count} shards; expected 1 to ${MAX_SHARDS}`);
}

/** The shard of a SLURM array task: its position in the array's range MIN..MAX by STEP. */
function fromSlurm(env: Env, id: number): Shard {
  const min = envInt(env, 'SLURM_ARRAY_TASK_MIN');
  const max = envInt(env, 'SLURM_ARRAY_TASK_MAX');
  const step = envInt(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
  const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT');
  if (min !== undefined && max !== undefined) {
    const range = `SLURM_ARRAY_TASK_MIN..MAX ${min}..${max}${step > 1 ? ` step ${step}` : ''}`;
    if (step < 1 || max < min || id < min || id > max || (id - min) % step !== 0)
      throw new InputError(`SLURM_ARRAY_TASK_ID=${id} is not a task of ${range}`);
    const n = Math.floor((max - min) / step) + 1;
    if (count !== undefined && count !== n)
      throw new InputError(
        `SLURM_ARRAY_TASK_COUNT=${count} but ${range} has ${n} tasks: the array is not one range (e.g. --array=1,4,9, or a throttled list); submit --array=0-${count - 1}, or give --shard I/N yourself`,
      );
    checkCount(n, range);
    return { index: (id - min) / step, count: n, source: `SLURM_ARRAY_TASK_ID=${id} of ${range}` };
  }
  if (count === undefined)
    throw new InputError(
      `SLURM_ARRAY_TASK_ID=${id} is set without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN/MAX: the number of shards is unknown; give --shards N or --shard I/N`,
    );
  checkCount(count, 'SLURM_ARRAY_TASK_COUNT');
  if (id >= count)
    throw new InputError(
      `SLURM_ARRAY_TASK_ID=${id} with SLURM_ARRAY_TASK_COUNT=${count} and no SLURM_ARRAY_TASK_MIN: taken as 0-based, it must be below ${count}`,
    );
  return { index: id, count, source: `SLURM_ARRAY_TASK_ID=${id} of SLURM_ARRAY_TASK_COUNT=${count}` };
}

/**
 * The shard this process runs, or null for the whole run. An explicit --shard wins over the environment;
 * --shard none ignores it (an array job whose tasks are different runs, not shards of one).
 */
export function resolveShard(req: ShardRequest, env: Env = process.env): Shard | null {
  const shards = req.shards ?? undefined;
  if (req.shard === 'none') {
    if (shards !== undefined) throw new SettingError(`${ref('shards')} and ${ref('shard')} none conflict`);
    return null;
  }
  if (req.shard) {
    if (shards !== undefined && shards !== req.shard.count)
      throw new SettingError(`${ref('shard')} ${shardText(req.shard)} and ${ref('shards')} ${shards} disagree`);
    return { ...req.shard, source: `--shard ${shardText(req.shard)}` };
  }
  const slurm = envInt(env, 'SLURM_ARRAY_TASK_ID');
  if (slurm !== undefined) {
    if (shards === undefined) return fromSlurm(env, slurm);
    // with the count given, the task id is the index: a resubmitted subset (--array=3,5) keeps its shards
    if (slurm >= shards)
      throw new SettingError(
        `SLURM_ARRAY_TASK_ID=${slurm} is not below ${ref('shards')} ${shards}: with ${ref('shards')} the array's task ids are the shard indices, 0 to ${shards - 1} (--array=0-${shards - 1})`,
      );
    return { index: slurm, count: shards, source: `SLURM_ARRAY_TASK_ID=${slurm} with --shards ${shards}` };
  }
  const k8s = envInt(env, 'JOB_COMPLETION_INDEX');
  if (k8s !== undefined) {
    if (shards === undefined)
      throw new SettingError(
        `JOB_COMPLETION_INDEX=${k8s} is set (a Kubernetes Indexed Job) but the pod is not told the number of completions: give ${ref('shards')} N (the Job's completions), or ${ref('shard')} none to run unsharded`,
      );
    if (k8s >= shards)
      throw new SettingError(
        `JOB_COMPLETION_INDEX=${k8s} is not below ${ref('shards')} ${shards} (indices run 0 to ${shards - 1})`,
      );
    return { index: k8s, count: shards, source: `JOB_COMPLETION_INDEX=${k8s} with --shards ${shards}` };
  }
  if (shards !== undefined)
    throw new SettingError(
      `${ref('shards')} ${shards} takes the index from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX, and neither is set: give ${ref('shard')} I/${shards}`,
    );
  return null;
}
