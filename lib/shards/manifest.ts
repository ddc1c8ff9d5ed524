// shard.json: what a shard is (its index, how it was chosen), which run it belongs to (the full settings
// hash of config.json, the same in every shard of a run) and what it holds (its units and each unit's
// records in plan order). Written when the shard starts (complete: false) and again when it has finished,
// with what the merge needs to finish the run (`finish`, the command's own).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/json.ts';
import type { Shard } from './environment.ts';
import { isShardSpec, shardText } from './spec.ts';

export const SHARD_FILE = 'shard.json';
export const SHARD_FORMAT = 'esr-shard/1';

export type Unit = string | number;

export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  /** The command that wrote it (ablate, find-otd-latents, capture). */
  command: string;
  /** config.json's key: sha256 of the run's settings (the whole run's, not the shard's). */
  settings_hash: string;
  shard: Shard;
  /** The phase of a command run in phases (find-otd-latents: responses, then capture); absent otherwise. */
  phase?: string;
  /** What a unit is (feature, prompt, sample). */
  unit: string;
  /** Every unit of the run, in plan order: the same in every shard. */
  plan: Unit[];
  /** This shard's units with their records (trial or sample ids), in plan order; filled when complete. */
  units: { unit: Unit; records: string[] }[];
  complete: boolean;
  /** What the merge needs to finish the run, the command's own (null until complete). */
  finish: unknown;
  /** The file holding the settings hash (config.json when absent; a capture's capture-settings.json). */
  claim_file?: string;
}

/** The file of a shard directory that records its settings hash. */
export const claimFile = (m: ShardManifest): string => m.claim_file ?? 'config.json';

export function writeManifest(dir: string, m: ShardManifest): void {
  writeJsonAtomic(join(dir, SHARD_FILE), m);
}

const isUnit = (u: unknown): u is Unit => typeof u === 'string' || (typeof u === 'number' && Number.isSafeInteger(u));

/** The field of shard.json that is wrong, or null when it is a manifest. */
function badField(m: Record<string, unknown>): string | null {
  if (m.format !== SHARD_FORMAT) return `format (expected ${SHARD_FORMAT})`;
  if (typeof m.command !== 'string') return 'command';
  if (typeof m.settings_hash !== 'string' || !/^[0-9a-f]{64}$/.test(m.settings_hash)) return 'settings_hash';
  const s = m.shard as Shard | undefined;
  if (!isShardSpec(s) || typeof s.source !== 'string') return 'shard';
  if (m.phase !== undefined && typeof m.phase !== 'string') return 'phase';
  if (typeof m.unit !== 'string') return 'unit';
  if (!Array.isArray(m.plan) || !m.plan.every(isUnit)) return 'plan';
  if (
    !Array.isArray(m.units) ||
    !m.units.every(
      (u) => isUnit(u?.unit) && Array.isArray(u.records) && u.records.every((r: unknown) => typeof r === 'string'),
    )
  )
    return 'units';
  if (typeof m.complete !== 'boolean') return 'complete';
  return null;
}

/** A shard directory's manifest, checked; an InputError naming the file and field when it is not one. */
export function readManifest(dir: string): ShardManifest {
  const file = join(dir, SHARD_FILE);
  if (!existsSync(file)) throw new InputError(`${dir}: no ${SHARD_FILE} (not a shard directory)`);
  const m = readJson(file);
  if (typeof m !== 'object' || m === null || Array.isArray(m))
    throw new InputError(`${file}: expected a JSON object, found ${typeof m}`);
  const bad = badField(m);
  if (bad) throw new InputError(`${file}: field ${bad} is missing or malformed`);
  return m as ShardManifest;
}

/**
 * Refuses to run shard `shard` of the run with settings `hash` in `dir` when the directory holds another
 * shard (or another run's shard); the settings themselves are checked by the run's config.json claim.
 */
export function checkShardDir(dir: string, shard: Shard, hash: string): void {
  if (!existsSync(join(dir, SHARD_FILE))) return;
  const m = readManifest(dir);
  if (m.shard.index !== shard.index || m.shard.count !== shard.count)
    throw new InputError(
      `${dir} holds shard ${shardText(m.shard)} (${m.shard.source}), not ${shardText(shard)} (${shard.source}); every shard writes its own directory`,
    );
  if (m.settings_hash !== hash)
    throw new InputError(`${dir} holds a shard of a run with other settings; use another --out`);
}
