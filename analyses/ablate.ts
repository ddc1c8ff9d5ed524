// analyze ablate: steered generation with and without the off-topic detector latents (plus controls),
// judged, with cluster-bootstrap CIs per condition and paired differences between conditions.
import type { CommandModule } from 'yargs';
import { checkWorkers, openSession } from '../lib/session.ts';
import { readGeneralText, readPrompts } from '../lib/io/inputs.ts';
import { newRunDir } from '../lib/runs/dirs.ts';
import { InputError } from '../lib/errors.ts';
import { checkSamplingFlags } from '../lib/cli/flags.ts';
import { type JudgeArgs, judgeOptions, judgeSettings } from '../lib/cli/judgeFlags.ts';
import { lockDir } from '../lib/runs/lock.ts';
import { ABLATE_COMMAND, ABLATION_DEFAULTS, type AblationConfig } from '../lib/experiments/config.ts';
import { readFeatureLabels, readFeatures } from '../lib/experiments/features.ts';
import { locateLatents } from '../lib/experiments/latents.ts';
import { CONDITION_NAMES, checkConditionFlags, clampsLatents, parseConditions } from '../lib/experiments/conditions.ts';
import { RANDOM_MATCHES, type RandomMatch } from '../lib/experiments/randomSets.ts';
import { metricsText } from '../lib/trials/report.ts';
import { checkResamples } from '../lib/stats/bootstrap.ts';
import { checkInterventionValue } from '../lib/steering/interventions.ts';
import { runAblation } from '../lib/experiments/run.ts';
import { writeFigures } from '../lib/plot/run.ts';
import { backendSpec, promptsOption, sessionOptions } from '../lib/cli/options.ts';
import type { GlobalArgs, SessionArgs } from '../lib/cli/options.ts';
import { META_PROMPT_PLACEMENTS, type MetaPromptPlacement } from '../lib/experiments/steered.ts';
import { createJudge, defaultJudgeSpec } from '../lib/judge/index.ts';

interface Args extends SessionArgs, JudgeArgs {
  prompts: string;
  latents: string;
  otd?: string;
  features?: string;
  'n-features'?: number;
  'feature-labels'?: string;
  'general-text'?: string;
  'trials-per-feature': number;
  boost?: number;
  calibrate?: boolean;
  target?: number;
  'calibrate-steps'?: number;
  'calibrate-per-step'?: number;
  'calibrate-range'?: string;
  'calibration-cache'?: string;
  'boost-sweep'?: number;
  'boost-sweep-absolute'?: number;
  'sweep-range'?: number;
  conditions: string;
  'random-sets'?: number;
  'random-match'?: RandomMatch;
  'meta-prompt'?: string;
  'meta-prompt-placement'?: MetaPromptPlacement;
  'steer-layer'?: number;
  'clamp-layer'?: number;
  'max-tokens'?: number;
  temperature: number;
  'repetition-penalty': number;
  'top-k': number;
  'top-p': number;
  seed: number;
  judge?: string;
  resamples: number;
  out?: string;
}

const COMMAND = ABLATE_COMMAND;
const D = ABLATION_DEFAULTS;

const positiveInt = (flag: string, v: number | undefined): void => {
  if (v !== undefined && !(Number.isInteger(v) && v >= 1))
    throw new InputError(`${flag} must be a positive integer, found ${v}`);
};

function parseRange(text: string): [number, number] {
  const parts = text.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || !(parts[1] > parts[0]) || parts[0] < 0) {
    throw new InputError(`--calibrate-range ${JSON.stringify(text)}: expected LO,HI with 0 ≤ LO < HI (boost units)`);
  }
  checkInterventionValue(parts[1], '--calibrate-range HI');
  return [parts[0], parts[1]];
}

/** Strength flags: --boost V, or calibration (the default) with its settings; mixing the two is refused. */
function strengthFrom(a: Args): AblationConfig['strength'] {
  const calibrationFlags = (
    [
      'target',
      'calibrate-steps',
      'calibrate-per-step',
      'calibrate-range',
      'calibration-cache',
      'boost-sweep',
      'boost-sweep-absolute',
      'sweep-range',
    ] as const
  ).filter((k) => a[k] !== undefined);
  if (a.boost !== undefined) {
    if (a.calibrate)
      throw new InputError('--boost and --calibrate conflict: give a fixed boost or calibrate one per feature');
    if (calibrationFlags.length)
      throw new InputError(
        `--boost ${a.boost} is a fixed strength; ${calibrationFlags.map((k) => `--${k}`).join(', ')} only apply with --calibrate`,
      );
    checkInterventionValue(a.boost, '--boost');
    return { kind: 'fixed', boost: a.boost };
  }
  const target = a.target ?? D.strength.target;
  if (!(target > 0 && target < 100))
    throw new InputError(`--target must be a score strictly between 0 and 100, found ${target}`);
  positiveInt('--calibrate-steps', a['calibrate-steps']);
  positiveInt('--calibrate-per-step', a['calibrate-per-step']);
  positiveInt('--boost-sweep', a['boost-sweep']);
  positiveInt('--boost-sweep-absolute', a['boost-sweep-absolute']);
  if (a['boost-sweep'] !== undefined && a['boost-sweep-absolute'] !== undefined)
    throw new InputError(
      "--boost-sweep and --boost-sweep-absolute conflict: sweep around each feature's threshold, or the same absolute boosts for all",
    );
  if (a['sweep-range'] !== undefined && !(a['sweep-range'] > 0))
    throw new InputError(`--sweep-range must be positive, found ${a['sweep-range']}`);
  if (a['sweep-range'] !== undefined && a['boost-sweep'] === undefined && a['boost-sweep-absolute'] === undefined)
    throw new InputError('--sweep-range applies to --boost-sweep K or --boost-sweep-absolute N; give one');
  const absolute = a['boost-sweep-absolute'];
  return {
    kind: 'calibrate',
    target,
    steps: a['calibrate-steps'],
    perStep: a['calibrate-per-step'],
    range: a['calibrate-range'] ? parseRange(a['calibrate-range']) : null,
    sweep: a['boost-sweep']
      ? { k: a['boost-sweep'], range: a['sweep-range'] }
      : absolute
        ? { k: absolute, range: a['sweep-range'], absolute: true }
        : null,
    cacheDir: a['calibration-cache'] ?? null,
  };
}

const command: CommandModule<GlobalArgs, Args> = {
  command: COMMAND,
  describe:
    'Steer along many features with and without the detector latents ablated (and controls), judge, and report ESR metrics with bootstrap CIs',
  builder: (y) =>
    judgeOptions(
      promptsOption(sessionOptions(y, 'sequences per generation batch'))
        .option('latents', {
          type: 'string',
          default: D.latents,
          describe: 'latents to ablate: topK (latest find-otd-latents run, or --otd), FILE:topK, or a list 12,40,7',
        })
        .option('otd', {
          type: 'string',
          describe: "latent set for topK: our latents.json or the paper's off_topic_detectors.json",
        })
        .option('features', {
          type: 'string',
          describe: 'features to steer: JSON list of indices or {latent, label}, or lines index[,label]',
        })
        .option('n-features', {
          type: 'number',
          describe: `sample N features (seeded) from the steering pool: latents silent on every prompt at the feature layer, alive on --general-text, not ablated (default ${D.features.sample})`,
        })
        .option('feature-labels', {
          type: 'string',
          describe:
            'labels of latents (JSON {"<index>": "label"}, a Neuronpedia explanations export, or lines index,label): sample only labelled features; labels go into the trials and the judge prompt (default: the SAE\'s esr_defaults.json, if any)',
        })
        .option('general-text', {
          type: 'string',
          defaultDescription: 'data/corpus/general.txt',
          describe: 'general text, one passage per line: a steering feature must fire somewhere in it',
        })
        .option('trials-per-feature', {
          type: 'number',
          default: D.trialsPerFeature,
          describe: '(prompt, seed) draws per feature, each run under every condition',
        })
        .option('boost', {
          type: 'number',
          describe: 'fixed steering strength for every feature (else calibrated per feature)',
        })
        .option('calibrate', {
          type: 'boolean',
          describe: "calibrate each feature's strength by probabilistic bisection (the default without --boost)",
        })
        .option('target', {
          type: 'number',
          describe: `calibration target first-attempt score, 0–100 (default ${D.strength.target})`,
        })
        .option('calibrate-steps', {
          type: 'number',
          describe: `bisection steps per feature (default ${D.strength.steps})`,
        })
        .option('calibrate-per-step', {
          type: 'number',
          describe: `responses judged per bisection step (default ${D.strength.perStep}, as the paper did for its 70B model)`,
        })
        .option('calibrate-range', {
          type: 'string',
          describe: 'bisection bounds LO,HI in boost units (default 0 to 2·median‖h‖/‖W_dec[f]‖)',
        })
        .option('calibration-cache', {
          type: 'string',
          describe: 'directory of cached calibrations (default <out>/calibration)',
        })
        .option('boost-sweep', {
          type: 'number',
          describe: 'K strength levels around each threshold, in threshold spreads (operating-regime curve)',
        })
        .option('boost-sweep-absolute', {
          type: 'number',
          describe: `the paper's sweep: N absolute boost levels spanning mean ± R sd of the calibrated thresholds (R = --sweep-range, default ${D.sweepRangeAbsolute}), the same for every feature`,
        })
        .option('sweep-range', {
          type: 'number',
          describe: `sweep from −R to +R threshold spreads (default ${D.sweepRange}; ${D.sweepRangeAbsolute} with --boost-sweep-absolute)`,
        })
        .option('conditions', {
          type: 'string',
          default: D.conditions.join(','),
          describe: `of ${CONDITION_NAMES.join(', ')}`,
        })
        .option('random-sets', {
          type: 'number',
          describe: `random latent sets for the random condition (default ${D.randomSets})`,
        })
        .option('random-match', {
          choices: RANDOM_MATCHES,
          describe:
            "random control: activity (default: matched on label-blind firing frequency and mean activation, detector-like latents excluded), activity-norm (then also on the residual norm its clamp removes on off-topic contexts) or none (uniform, the paper's)",
        })
        .option('meta-prompt', {
          type: 'string',
          describe: 'instruction of the meta-prompt condition (default: ours, see docs/ablate.md)',
        })
        .option('meta-prompt-placement', {
          choices: META_PROMPT_PLACEMENTS,
          describe: `where the meta-prompt goes: appended to the user turn (default ${D.metaPromptPlacement}, as in the paper; works for Gemma) or a system message`,
        })
        .option('steer-layer', {
          type: 'number',
          describe: "layer the steering acts at (default: the SAE's esr_defaults.json, else the feature layer)",
        })
        .option('clamp-layer', {
          type: 'number',
          describe:
            "layer the ablation clamps act at (default: the SAE's esr_defaults.json, else the steering layer, as in the paper)",
        })
        .option('max-tokens', {
          type: 'number',
          describe: `most new tokens per response; generation stops at EOS (default ${D.sampling.maxNewTokens}, the paper's; lowered with a note when the model's context is shorter)`,
        })
        .option('temperature', { type: 'number', default: D.sampling.temperature })
        .option('repetition-penalty', { type: 'number', default: D.sampling.repetitionPenalty })
        .option('top-k', { type: 'number', default: D.sampling.topK, describe: '0 = off' })
        .option('top-p', { type: 'number', default: D.sampling.topP, describe: '1 = off' })
        .option('seed', {
          type: 'number',
          default: D.seed,
          describe: 'seed of feature sampling, draws, random sets, calibration and the bootstrap',
        })
        .option('judge', {
          type: 'string',
          describe:
            "anthropic:<model>, openai:<model>, heuristic, or organism[:organism.json] (exact ground truth for the model organism's language) (default: by API key in the environment, else heuristic)",
        })
        .option('resamples', { type: 'number', default: D.resamples, describe: 'bootstrap resamples' })
        .option('out', {
          type: 'string',
          describe: `run directory (default ${newRunDir(COMMAND).replace(/\d{8}-\d{6}$/, '<timestamp>')}); rerun into it to resume`,
        }),
    ),
  handler: async (a) => {
    // Every check that needs no model comes first.
    if (a.features !== undefined && a['n-features'] !== undefined)
      throw new InputError('--features and --n-features conflict: give a features file or a number to sample');
    positiveInt('--n-features', a['n-features']);
    positiveInt('--trials-per-feature', a['trials-per-feature']);
    positiveInt('--batch-size', a['batch-size']);
    positiveInt('--random-sets', a['random-sets']);
    checkResamples(a.resamples, '--resamples', 100);
    checkSamplingFlags(a);
    checkWorkers(a.workers, a['force-workers']);
    const conditions = parseConditions(a.conditions);
    checkConditionFlags(conditions, (flag) => a[flag as keyof Args] !== undefined);
    if (a['meta-prompt'] !== undefined && !a['meta-prompt'].trim()) throw new InputError('--meta-prompt is empty');
    const strength = strengthFrom(a);
    const judge = createJudge(a.judge ?? defaultJudgeSpec(), judgeSettings(a));
    const prompts = readPrompts(a.prompts);
    if (a.features !== undefined && a['feature-labels'] !== undefined)
      throw new InputError(
        '--features and --feature-labels conflict: label the features in the features file (index,label), or sample labelled ones',
      );
    if (a['feature-labels'] !== undefined) readFeatureLabels(a['feature-labels']); // bad input fails before any work
    if (a['general-text'] !== undefined) readGeneralText(a['general-text']);
    const features = a.features
      ? readFeatures(a.features)
      : { sample: a['n-features'], labels: a['feature-labels'], generalText: a['general-text'] };
    const latents = locateLatents(
      a.latents,
      { otd: a.otd ?? null, model: a.model, sae: a.sae, prompts: a.prompts },
      clampsLatents(conditions),
    );

    const out = a.out ?? newRunDir(COMMAND);
    const session = await openSession({
      model: a.model,
      adapter: a.adapter,
      mergeAdapter: a['merge-adapter'],
      sae: a.sae,
      layer: a.layer,
      backend: backendSpec(a),
      workers: a.workers,
      forceWorkers: a['force-workers'],
    });
    const lock = lockDir(out, `run directory ${out}`); // held through the figures, written after the run
    try {
      const r = await runAblation(session, {
        out,
        prompts,
        paths: { prompts: a.prompts },
        features,
        trialsPerFeature: a['trials-per-feature'],
        seed: a.seed,
        conditions,
        strength,
        steerLayer: a['steer-layer'],
        clampLayer: a['clamp-layer'],
        latents,
        randomSets: a['random-sets'],
        randomMatch: a['random-match'],
        metaPrompt: a['meta-prompt'],
        metaPromptPlacement: a['meta-prompt-placement'],
        sampling: {
          maxNewTokens: a['max-tokens'],
          temperature: a.temperature,
          topK: a['top-k'],
          topP: a['top-p'],
          repetitionPenalty: a['repetition-penalty'],
        },
        batchSize: a['batch-size'],
        judge,
        metrics: { resamples: a.resamples },
      });
      console.log(metricsText(r.report, Object.keys(r.report.conditions)[0]));
      if (Object.keys(r.report.conditions).length > 2)
        console.log('(differences between the other conditions: summary.md)');
      const sweep = strength?.kind === 'calibrate' ? strength.sweep : null;
      const boostLabel = sweep
        ? sweep.absolute
          ? 'strength (sd of the thresholds from their mean; the same boosts for every feature)'
          : 'strength (threshold spreads from each feature’s threshold)'
        : null;
      const figures = await writeFigures(r.out, boostLabel ? { boostLabel } : {});
      console.log(
        `\n${r.planned} trials (${r.alreadyDone} already done, ${r.generated} now) in ${r.seconds.toFixed(1)} s → ${r.store}; metrics.json, summary.md and ${figures.length} figures in ${r.out}`,
      );
    } finally {
      lock.release();
      await session.close();
    }
  },
};

export default command;
