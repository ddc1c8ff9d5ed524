// analyze capture: per-token SAE codes of labelled samples into an activation store (Arrow, sparse).
import type { CommandModule } from 'yargs';
import { capture } from '../lib/capture/capture.ts';
import { storeMeta } from '../lib/capture/meta.ts';
import { readSamples } from '../lib/capture/samples.ts';
import { CAPTURE_SETTINGS } from '../lib/capture/settings.ts';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { withSessionFrom } from '../lib/cli/session.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { sha256Text } from '../lib/io/hash.ts';
import { hookName } from '../lib/model/hooks.ts';
import { type Progress, progress } from '../lib/progress.ts';
import { SESSION_SETTINGS } from '../lib/settings/session.ts';
import { type CliArgs, required, resolveSettings } from '../lib/settings/table.ts';
import { checkInterventions, offHookNotes } from '../lib/steering/interventions.ts';
import { INTERVENTION_SETTINGS } from '../lib/steering/settings.ts';

/** Every flag of the command. */
export const SETTINGS = joinTables(joinTables(SESSION_SETTINGS, CAPTURE_SETTINGS), INTERVENTION_SETTINGS);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

const command: CommandModule<GlobalArgs, Args> = {
  command: 'capture',
  describe:
    'Capture per-token SAE codes over labelled samples into an activation store (codes.arrow, samples.arrow, meta.json)',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (argv) => {
    const resolved = resolveSettings(SETTINGS, cliInput(SETTINGS, argv)); // every flag checked before any work
    const v = resolved.values;
    const samplesFile = required(resolved, 'samples', 'the labelled samples to capture');
    const out = required(resolved, 'out', 'the activation store to write');
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
        onStart: ({ pending }) => (bar = progress('capture batches', pending)),
        onBatch: () => bar!.tick(),
      });
      bar?.done();
      console.log(
        `${out}: ${samples.length} samples (${result.captured} captured now, ${result.resumed} already there) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  },
};

export default command;
