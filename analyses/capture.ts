// analyze capture: per-token SAE codes of labelled samples into an activation store (Arrow, sparse).
import type { CommandModule } from 'yargs';
import { capture } from '../lib/capture/capture.ts';
import { backendSpec, sessionOptions, interventionOptions, weightChoice } from '../lib/cli/options.ts';
import type { GlobalArgs, SessionArgs } from '../lib/cli/options.ts';
import { readSamples } from '../lib/capture/samples.ts';
import { checkWorkers, openSession } from '../lib/session.ts';
import { InputError } from '../lib/errors.ts';
import { storeMeta } from '../lib/capture/meta.ts';
import { type Progress, progress } from '../lib/progress.ts';
import { sha256Text } from '../lib/io/hash.ts';
import { hookName } from '../lib/model/hooks.ts';
import { checkInterventions, offHookNotes, parseInterventionFlags } from '../lib/steering/interventions.ts';

interface Args extends SessionArgs {
  samples: string;
  out: string;
  steer?: string[];
  clamp?: string[];
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'capture',
  describe:
    'Capture per-token SAE codes over labelled samples into an activation store (codes.arrow, samples.arrow, meta.json)',
  builder: (y) =>
    interventionOptions(sessionOptions(y, 'samples per forward pass'))
      .option('samples', {
        type: 'string',
        demandOption: true,
        describe: 'JSONL: {id, messages|prompt+response, condition, spans?}',
      })
      .option('out', {
        type: 'string',
        demandOption: true,
        describe: 'store directory (NAME.acts); rerunning resumes',
      }),
  handler: async (argv) => {
    if (!(Number.isInteger(argv['batch-size']) && argv['batch-size'] >= 1))
      throw new InputError(`--batch-size must be a positive integer, found ${argv['batch-size']}`);
    checkWorkers(argv.workers, argv['force-workers']);
    const interventions = parseInterventionFlags(argv.steer, argv.clamp);
    const samples = readSamples(argv.samples);
    const setup = await openSession({
      model: argv.model,
      adapter: argv.adapter,
      mergeAdapter: argv['merge-adapter'],
      weights: weightChoice(argv),
      sae: argv.sae,
      layer: argv.layer,
      backend: backendSpec(argv),
      workers: argv.workers,
      forceWorkers: argv['force-workers'],
    });
    checkInterventions(interventions, setup.config, setup.sae);
    for (const note of offHookNotes(interventions, setup.sae)) console.error(note);
    const settings = {
      hook: hookName(setup.hook),
      interventions,
      batch_size: argv['batch-size'],
      samples_sha256: sha256Text(JSON.stringify(samples)),
    };
    const started = Date.now();
    const meta = storeMeta(
      setup,
      argv.model,
      setup.backend.description,
      { samples: settings.samples_sha256 },
      { ...settings, samples_file: argv.samples, span_units: 'code points of the last message' },
    );
    let result: Awaited<ReturnType<typeof capture>>;
    let bar: Progress | undefined;
    try {
      result = await capture({ ...setup, interventions }, samples, argv.out, meta, {
        batchSize: argv['batch-size'],
        settings,
        onStart: ({ pending }) => (bar = progress('capture batches', pending)),
        onBatch: () => bar!.tick(),
      });
      bar?.done();
    } finally {
      await setup.close();
    }
    console.log(
      `${argv.out}: ${samples.length} samples (${result.captured} captured now, ${result.resumed} already there) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  },
};

export default command;
