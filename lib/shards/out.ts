// Where a shard writes: <out>/shard-I-of-N, under the --out every shard of the run is given (on storage
// they all see), so a rerun of the same index finds its directory again and resumes.
import { join } from 'node:path';
import { SettingError, settingRef as ref } from '../errors.ts';
import { resolveShard, type Shard, type ShardRequest } from './environment.ts';
import { shardDirName, shardText } from './spec.ts';

/** The shard this process runs (from the flags or the scheduler) and its directory; out unchanged when not sharded. */
export function shardOut(
  req: ShardRequest,
  out: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { shard: Shard | null; out: string | undefined } {
  const shard = resolveShard(req, env);
  if (!shard) return { shard, out };
  if (out === undefined)
    throw new SettingError(
      `shard ${shardText(shard)} (${shard.source}) writes under ${ref('out')}/${shardDirName(shard)}, and every shard of the run needs the same ${ref('out')}: give ${ref('out')} DIR on storage every shard and the merge can see`,
    );
  return { shard, out: join(out, shardDirName(shard)) };
}
