// The sharding settings, declared once (lib/settings/table.ts) and shared by every command that can run
// as one shard of a larger run. Neither is recorded in config.json: a shard's settings hash is the whole
// run's, which is what lets `analyze merge` check that shards belong together.
import { custom, int } from '../settings/kinds.ts';
import { isShardSpec, MAX_SHARDS, parseShard, type ShardSpec, shardText } from './spec.ts';

export const SHARD_SETTINGS = {
  shard: custom<ShardSpec | 'none' | undefined, string>({
    doc: 'run only shard I of N (0-based; ablate and judge: by steering feature; capture: by batch of its fixed plan; find-otd-latents: by prompt, then by capture batch) into <out>/shard-I-of-N (judge: OUT.shard-I-of-N.jsonl); default: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX when set; none: never sharded',
    default: undefined,
    key: null,
    cli: { type: 'string' },
    expected: 'I/N with 0 ≤ I < N, or none',
    valid: (v) => v === 'none' || isShardSpec(v),
    parse: (text, name) => (text.trim() === 'none' ? 'none' : parseShard(text, name)),
    show: (v) => (v === 'none' || v === undefined ? String(v) : shardText(v)),
  }),
  shards: int({
    doc: 'number of shards when the scheduler gives only the index (Kubernetes JOB_COMPLETION_INDEX: the Job’s completions)',
    min: 1,
    max: MAX_SHARDS,
    key: null,
  }),
};
