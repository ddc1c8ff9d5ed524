// The command-independent half of `analyze merge`: the shard directories found (a directory given may be
// a shard or hold shard-I-of-N directories), checked to be every shard of one run (check.ts), and the
// merged run directory claimed with the shards' own settings, so it has the same settings hash and
// config.json as the unsharded run, and a rerun of the same merge finds it again (merging is idempotent).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/json.ts';
import { claimRunDir } from '../runs/claim.ts';
import { checkShards, type ShardSet } from './check.ts';
import { claimFile, readManifest, SHARD_FILE } from './manifest.ts';

const SHARD_DIR = /^shard-\d+-of-\d+$/;

/** The shard directories a path names: itself when it holds shard.json, else its shard-I-of-N children. */
function shardDirs(path: string): string[] {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new InputError(`${path}: no such directory`);
  if (existsSync(join(path, SHARD_FILE))) return [path];
  const inside = readdirSync(path)
    .filter((d) => SHARD_DIR.test(d))
    .sort()
    .map((d) => join(path, d));
  if (!inside.length)
    throw new InputError(
      `${path}: neither a shard directory (no ${SHARD_FILE}) nor one holding shard-I-of-N directories`,
    );
  return inside;
}

/** Reads and checks the shards under `paths` (every problem named in one InputError). */
export function readShardSet(paths: string[]): ShardSet {
  const entries = paths.flatMap(shardDirs).map((dir) => ({ dir, manifest: readManifest(dir) }));
  const set = checkShards(entries);
  for (const e of set.shards) {
    const file = join(e.dir, claimFile(e.manifest));
    if (!existsSync(file)) throw new InputError(`${e.dir}: no ${claimFile(e.manifest)}`);
    if (readJson(file).key !== set.settingsHash)
      throw new InputError(
        `${file}: its settings hash differs from ${join(e.dir, SHARD_FILE)}'s; the shard directory was altered`,
      );
  }
  return set;
}

/** Claims `out` for the run the shards make up (its config.json as theirs) and records where it came from. */
export function claimMerged(out: string, set: ShardSet): void {
  const file = claimFile(set.shards[0].manifest);
  const { key: _, config, ...extra } = readJson(join(set.shards[0].dir, file));
  const key = claimRunDir(out, config, { what: 'a run', extra, file });
  if (key !== set.settingsHash) throw new Error(`${out}: config.json re-recorded under another hash (${key})`);
  writeJsonAtomic(join(out, 'merged.json'), {
    command: set.command,
    settings_hash: set.settingsHash,
    unit: set.unit,
    shards: set.shards.map((e) => ({ dir: e.dir, shard: e.manifest.shard })),
  });
}
