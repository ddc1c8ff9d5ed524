// analyze capture: per-token SAE codes of labelled samples into an activation store (Arrow, sparse).
import type { CommandModule } from 'yargs';
import { activeBackend, initBackend, type BackendChoice } from '../lib/backend.ts';
import { capture } from '../lib/capture/capture.ts';
import { readSamples } from '../lib/capture/samples.ts';
import { loadModelAndSae } from '../lib/cli/setup.ts';
import { InputError } from '../lib/errors.ts';
import { modelProvenance, runtimeProvenance, sha256Text } from '../lib/provenance.ts';
import { interventionHooks, parseInterventionFlags } from '../lib/steering/interventions.ts';

interface Args {
  backend: BackendChoice;
  model: string;
  sae: string;
  layer?: number;
  samples: string;
  out: string;
  steer?: string[];
  clamp?: string[];
  'batch-size': number;
}

const command: CommandModule<object, Args> = {
  command: 'capture',
  describe: 'Capture per-token SAE codes over labelled samples into an activation store (codes.arrow, samples.arrow, meta.json)',
  builder: (y) =>
    y
      .option('model', { type: 'string', default: 'data/model', describe: 'Hugging Face checkpoint directory' })
      .option('sae', { type: 'string', default: 'data/sae', describe: 'SAE: SAELens dir, Gemma Scope params.npz, Goodfire .pth, or safetensors' })
      .option('layer', { type: 'number', describe: 'feature layer (resid_post.L); default: the SAE hook layer' })
      .option('samples', { type: 'string', demandOption: true, describe: 'JSONL: {id, messages|prompt+response, condition, spans?}' })
      .option('out', { type: 'string', demandOption: true, describe: 'store directory (NAME.acts); rerunning resumes' })
      .option('steer', { type: 'string', array: true, describe: 'LAYER:LATENT:VALUE, add VALUE·W_dec[LATENT] at LAYER (repeatable)' })
      .option('clamp', { type: 'string', array: true, describe: 'LAYER:LATENT:VALUE, clamp the latent to VALUE at LAYER (repeatable)' })
      .option('batch-size', { type: 'number', default: 8, describe: 'samples per forward pass' }) as never,
  handler: async (argv) => {
    if (!(Number.isInteger(argv['batch-size']) && argv['batch-size'] >= 1)) throw new InputError(`--batch-size must be a positive integer, found ${argv['batch-size']}`);
    const interventions = parseInterventionFlags(argv.steer, argv.clamp);
    const samples = readSamples(argv.samples);
    await initBackend(argv.backend);
    const setup = loadModelAndSae(argv.model, argv.sae, argv.layer);
    const hooks = interventionHooks(setup.sae, interventions, setup.model.config.numLayers);
    const settings = { layer: setup.layer, interventions, batch_size: argv['batch-size'], samples_sha256: sha256Text(JSON.stringify(samples)) };
    const started = Date.now();
    const result = await capture({ ...setup, hooks }, samples, argv.out, {
      model: modelProvenance(argv.model),
      sae: setup.sae.info,
      layer: setup.layer,
      d_sae: setup.sae.dSae,
      chat_template_hash: setup.tokenizer.chatTemplate ? sha256Text(setup.tokenizer.chatTemplate) : null,
      content_hashes: { samples: settings.samples_sha256 },
      settings: { ...settings, samples_file: argv.samples, span_units: 'code points of the last message' },
      runtime: runtimeProvenance(activeBackend()),
    }, {
      batchSize: argv['batch-size'],
      settings,
      onBatch: (done, total) => process.stderr.write(`capture: batch ${done}/${total}\n`),
    });
    console.log(`${argv.out}: ${samples.length} samples (${result.captured} captured now, ${result.resumed} already there) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
};

export default command;
