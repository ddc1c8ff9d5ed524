// The merge of a sharded capture: every shard left its batches of the fixed plan as parts, numbered and
// indexed as in the whole store, so the merged store is those parts side by side, finalized once: the
// same codes.arrow, samples.arrow and meta.json as the unsharded capture.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { tempPathFor } from '../io/atomic.ts';
import type { ShardSet } from '../shards/check.ts';
import { META_FILE, PARTS_DIR, type StoreMeta } from '../store/schema.ts';
import { ActsWriter } from '../store/writer.ts';

export const CAPTURE_COMMAND = 'capture';

/** What a capture shard leaves for the merge (shard.json's finish): the store's meta.json as the run writes it. */
export interface CaptureFinish {
  meta: StoreMeta;
}

const partFiles = (unit: number): string[] =>
  (['codes', 'samples'] as const).map((kind) => `${String(unit).padStart(6, '0')}.${kind}.arrow`);

/** Copies every shard's parts into `out` and finalizes the store there; a rerun finds it done. */
export async function mergeCapture(out: string, set: ShardSet): Promise<{ batches: number; samples: number }> {
  const batches = set.plan.length;
  if (existsSync(join(out, META_FILE))) return { batches, samples: 0 };
  const parts = join(out, PARTS_DIR);
  mkdirSync(parts, { recursive: true });
  for (const e of set.shards)
    for (const u of e.manifest.units)
      for (const f of partFiles(Number(u.unit))) {
        const from = join(e.dir, PARTS_DIR, f);
        if (!existsSync(from))
          throw new InputError(`${from}: missing, though ${e.dir}/shard.json lists batch ${u.unit} as done`);
        const tmp = tempPathFor(join(parts, f));
        copyFileSync(from, tmp);
        renameSync(tmp, join(parts, f));
      }
  const { meta } = set.shards[0].manifest.finish as CaptureFinish;
  const present = readdirSync(parts).filter((f) => f.endsWith('.samples.arrow')).length;
  if (present !== batches) throw new InputError(`${parts}: ${present} batches, the plan has ${batches}`);
  const writer = new ActsWriter(out);
  const samples = writer.samplesWritten;
  await writer.finalize(meta);
  return { batches, samples };
}
