// analyze capture: per-token SAE codes of labelled samples into an activation store (Arrow, sparse).
import type { CommandModule } from 'yargs';
import { join } from 'node:path';
import { CAPTURE_SETTINGS_FILE, type CaptureResult, capture } from '../lib/capture/capture.ts';
import { CAPTURE_COMMAND, type CaptureFinish } from '../lib/capture/merge.ts';
import { storeMeta } from '../lib/capture/meta.ts';
import { readSamples } from '../lib/capture/samples.ts';
import { CAPTURE_SETTINGS } from '../lib/capture/settings.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { withSessionFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { sha256Text } from '../lib/io/hash.ts';
import { readJson } from '../lib/io/json.ts';
import { hookName } from '../lib/model/hooks.ts';
import { type Progress, progress } from '../lib/progress.ts';
import { SESSION_SETTINGS } from '../lib/settings/session.ts';
import type { Shard } from '../lib/shards/environment.ts';
import { SHARD_FORMAT, writeManifest } from '../lib/shards/manifest.ts';
import { shardOut } from '../lib/shards/out.ts';
import { SHARD_SETTINGS } from '../lib/shards/settings.ts';
import { shardText } from '../lib/shards/spec.ts';
import type { StoreMeta } from '../lib/store/schema.ts';
import { type CliArgs, inputFor, required, resolveSettings } from '../lib/settings/table.ts';
import { checkInterventions, offHookNotes } from '../lib/steering/interventions.ts';
import { INTERVENTION_SETTINGS } from '../lib/steering/settings.ts';

/** Every flag of the command. */
export const SETTINGS = joinTables(
  joinTables(joinTables(SESSION_SETTINGS, CAPTURE_SETTINGS), INTERVENTION_SETTINGS),
  SHARD_SETTINGS,
);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

/** shard.json of a capture shard: its batches of the fixed plan, complete once `done` lists them. */
function writeShard(
  out: string,
  shard: Shard,
  planned: number,
  meta: StoreMeta,
  done: CaptureResult['batches'] | null,
) {
  writeManifest(out, {
    format: SHARD_FORMAT,
    command: CAPTURE_COMMAND,
    settings_hash: readJson(join(out, CAPTURE_SETTINGS_FILE)).key, // the claim capture() recorded
    shard,
    unit: 'batch',
    plan: Array.from({ length: planned }, (_, i) => i),
    units: done ?? [],
    complete: done !== null,
    finish: done ? ({ meta } satisfies CaptureFinish) : null,
    claim_file: CAPTURE_SETTINGS_FILE,
  });
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'capture',
  describe:
    'Capture per-token SAE codes over labelled samples into an activation store (codes.arrow, samples.arrow, meta.json)',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (argv) => {
    const input = cliInput(SETTINGS, argv);
    const resolved = resolveSettings(SETTINGS, input); // every flag checked before any work
    const v = resolved.values;
    const samplesFile = required(resolved, 'samples', 'the labelled samples to capture');
    const storeOut = required(resolved, 'out', 'the activation store to write');
    const sharded = shardOut(inputFor(SHARD_SETTINGS, input), storeOut); // the shard's directory under --out
    const out = sharded.out ?? storeOut;
    if (sharded.shard) console.error(`shard ${shardText(sharded.shard)} from ${sharded.shard.source} → ${out}`);
    const interventions = [...v.steer, ...v.clamp];
    const samples = readSamples(samplesFile);
    await withSessionFrom(argv, async (setup) => {
      checkInterventions(interventions, setup.config, setup.sae);
      for (const note of offHookNotes(interventions, setup.sae)) console.error(note);
      const settings = {
        hook: hookName(setup.hook),
        interventions,
        batch_size: v.batchSize,
        samples_sha256: sha256Text(JSON.stringify(samples)),
      };
      const started = Date.now();
      const meta = storeMeta(
        setup,
        v.model,
        setup.backend.description,
        { samples: settings.samples_sha256 },
        { ...settings, samples_file: samplesFile, span_units: 'code points of the last message' },
      );
      let bar: Progress | undefined;
      const result = await capture({ ...setup, interventions }, samples, out, meta, {
        batchSize: v.batchSize,
        settings,
        shard: sharded.shard ?? undefined,
        onStart: ({ pending, batches }) => {
          if (sharded.shard) writeShard(out, sharded.shard, batches, meta, null); // a killed shard is named unfinished
          bar = progress('capture batches', pending);
        },
        onBatch: () => bar!.tick(),
      });
      bar?.done();
      if (sharded.shard) {
        writeShard(out, sharded.shard, result.planned, meta, result.batches ?? []);
        return console.log(
          `shard done: ${result.batches?.length} of ${result.planned} batches (${result.captured} samples captured now, ${result.resumed} already there) in ${out}; once every shard is done: analyze merge STORE.acts ${storeOut}`,
        );
      }
      console.log(
        `${out}: ${samples.length} samples (${result.captured} captured now, ${result.resumed} already there) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  },
};

export default command;
