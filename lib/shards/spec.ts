// A shard of a run: `I/N`, the I-th (0-based, as SLURM arrays started at 0 and Kubernetes completion
// indices count) of N disjoint parts whose union is the whole run. Each shard writes its own directory,
// named after it, so the shards of one run can sit side by side on shared storage.
import { SettingError, settingRef as ref } from '../errors.ts';

export interface ShardSpec {
  /** 0 ≤ index < count. */
  index: number;
  count: number;
}

/** The most shards a run may be split into (far more than any cluster array a run needs). */
export const MAX_SHARDS = 100_000;

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= MAX_SHARDS;

/** Whether a value is a valid ShardSpec. */
export function isShardSpec(v: unknown): v is ShardSpec {
  if (typeof v !== 'object' || v === null) return false;
  const { index, count } = v as ShardSpec;
  return isCount(count) && Number.isSafeInteger(index) && index >= 0 && index < count;
}

/** `I/N` → {index: I, count: N}; anything else is a SettingError naming `setting`. */
export function parseShard(text: string, setting = 'shard'): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new SettingError(`${ref(setting)} ${JSON.stringify(text)}: expected I/N, shard I of N (0 ≤ I < N)`);
  const spec = { index: Number(m[1]), count: Number(m[2]) };
  if (!isCount(spec.count))
    throw new SettingError(`${ref(setting)} ${text}: N must be an integer in [1, ${MAX_SHARDS}], found ${m[2]}`);
  if (spec.index >= spec.count)
    throw new SettingError(
      `${ref(setting)} ${text}: shard indices are 0-based, so I must be in [0, ${spec.count - 1}]; found ${spec.index}`,
    );
  return spec;
}

/** `2/8`. */
export const shardText = (s: ShardSpec): string => `${s.index}/${s.count}`;

/** The directory a shard writes under its run's output directory: `shard-2-of-8`. */
export const shardDirName = (s: ShardSpec): string => `shard-${s.index}-of-${s.count}`;

/** A shard's own file beside `path`: `regraded.jsonl` → `regraded.shard-2-of-8.jsonl`. */
export function shardFile(path: string, s: ShardSpec): string {
  const m = /^(.*?)(\.[^./\\]+)?$/.exec(path)!;
  return `${m[1]}.${shardDirName(s)}${m[2] ?? ''}`;
}
