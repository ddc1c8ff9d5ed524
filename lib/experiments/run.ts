// analyze ablate end to end: features → strengths (fixed or calibrated) → the paired trial plan →
// steered generation and judging into the append-only trial store → metrics.json and summary.md.
// Everything lands in the run directory; rerunning the same command there continues where it stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '../session.ts';
import { withDirLock } from '../runs/lock.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { checkGenerationLength } from '../model/generate.ts';
import { progress } from '../progress.ts';
import { sha256Text } from '../io/hash.ts';
import { claimRunDir } from '../runs/claim.ts';
import { modelShape } from '../report/paper.ts';
import { modelProvenance, runtimeProvenance } from '../runs/provenance.ts';
import { computeMetrics, type MetricsReport } from '../trials/metrics.ts';
import { isDegraded } from '../trials/degraded.ts';
import { appendTrial, readTrials, repairTornTail } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import { DEFAULT_BISECTION, type BisectionSettings } from './bisection.ts';
import { boundOf, type Calibration, calibrate } from './calibrate.ts';
import { type Feature, sampleFeatures, STEERING_POOL_RULE, type SteeringPool, steeringPool } from './features.ts';
import {
  type AblationConfig,
  type AblationOptions,
  type AblationResult,
  ablationOptions,
  type StrengthOptions,
} from './config.ts';
import { checkLatentIndices } from './latents.ts';
import {
  BASELINE,
  type Condition,
  type ConditionResources,
  condition,
  conditionInstructions,
  conditionSettings,
} from './conditions.ts';
import { type PlannedTrial, planTrials, type Strength, sweepLevels } from './plan.ts';
import { decoderNorm, type PromptScan, scanPrompts } from './scan.ts';
import { generateAndJudge, type JudgedRow, renderPrompt, type SteeredGenerator } from './steered.ts';
import { summaryMarkdown } from './summary.ts';

export const STORE_FILE = 'trials.jsonl';

function checkFeatures(features: Feature[], ablated: number[], dSae: number): void {
  checkLatentIndices(
    features.map((f) => f.latent),
    dSae,
    '--features',
  );
  const clash = features.filter((f) => ablated.includes(f.latent)).map((f) => f.latent);
  if (clash.length)
    throw new InputError(
      `--features: ${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} also in the ablated set; steer along other latents`,
    );
}

function bisectionSettings(
  s: Extract<StrengthOptions, { kind: 'calibrate' }>,
  scale: (f: Feature) => number,
): (f: Feature) => BisectionSettings {
  return (f) => {
    const [lo, hi] = s.range ?? [0, scale(f)];
    return { lo, hi, priorMean: (lo + hi) / 2, priorSd: (hi - lo) / 4, target: s.target / 100, ...DEFAULT_BISECTION };
  };
}

const sd = (xs: number[]): number => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

function toTrial(
  p: PlannedTrial,
  r: JudgedRow,
  wellFormed: ((response: string) => number) | undefined,
  base: Record<string, unknown>,
  calibration: Calibration | undefined,
): Trial {
  return {
    id: p.id,
    feature: p.feature,
    feature_label: p.featureLabel,
    prompt: p.prompt,
    seed: p.seed,
    condition: p.condition,
    boost: p.boost,
    interventions: p.interventions,
    response: r.response,
    generated_tokens: r.generatedTokens,
    finish_reason: r.finishReason,
    well_formed_share: wellFormed ? wellFormed(r.response) : null,
    degraded: isDegraded(r.response),
    judge: r.judge,
    error: null,
    provenance: {
      ...base,
      seed: p.seed,
      prompt_index: p.promptIndex,
      meta_prompt: p.instruction,
      boost_level: p.level,
      random_set: p.randomSet,
      threshold: calibration?.threshold ?? null,
    },
  };
}

/** Model ids the judge's API returned over the run's trials (this session's and earlier ones'), in order first seen. */
function judgeModels(trials: Trial[]): string[] {
  return [...new Set(trials.map((t) => t.judge?.model).filter((m): m is string => typeof m === 'string'))];
}

function metricsOf(trials: Trial[], conditions: Condition[], o: AblationOptions): MetricsReport {
  const present = new Set(trials.map((t) => t.condition));
  const baseline = conditions.find((c) => present.has(c) && c === BASELINE) ?? conditions.find((c) => present.has(c));
  try {
    return computeMetrics(trials, {
      cluster: 'feature',
      resamples: o.metrics.resamples,
      seed: o.metrics.seed,
      baseline,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`metrics: ${err.message}`);
    throw err;
  }
}

/**
 * Runs the ablation with `config` (defaults and latent resolution by ablationOptions) into its run
 * directory, holding the directory's lock (one writer per run directory).
 */
export async function runAblation(session: Session, config: AblationConfig = {}): Promise<AblationResult> {
  const o = await ablationOptions(session, config);
  return withDirLock(o.out, `run directory ${o.out}`, () => ablation(session, o));
}

/**
 * The options with `sampling.maxNewTokens` lowered to what the model's context leaves after the longest
 * prompt (under every condition's instruction), when `fitMaxTokens` allows it; said on the log.
 */
function fitToContext(session: Session, o: AblationOptions): AblationOptions {
  const instructions = conditionInstructions(o.conditions, o);
  const longest = Math.max(
    ...o.prompts.flatMap((p) => instructions.map((i) => renderPrompt(session.tokenizer, p, i).length)),
  );
  const room = session.config.maxPositions - longest;
  if (!o.fitMaxTokens || o.sampling.maxNewTokens <= room || room < 1) return o;
  o.log(
    `max-tokens ${o.sampling.maxNewTokens} (the default) does not fit the model's max_position_embeddings (${session.config.maxPositions}) after the longest prompt (${longest} tokens): generating at most ${room}`,
  );
  return { ...o, sampling: { ...o.sampling, maxNewTokens: room } };
}

async function ablation(session: Session, options: AblationOptions): Promise<AblationResult> {
  const started = Date.now();
  const { sae, tokenizer, executor } = session;
  const o = fitToContext(session, options);
  const ablated = o.latents.latents;
  checkLatentIndices(ablated, sae.dSae, o.latents.source);
  if (Array.isArray(o.features)) checkFeatures(o.features, ablated, sae.dSae);
  const stopIds = tokenizer.eosIds.length ? tokenizer.eosIds : session.config.eosTokenIds;
  // Every prompt, under each condition's instruction, plus --max-tokens fits the model (and the template takes a system instruction) before any work.
  for (const instruction of conditionInstructions(o.conditions, o)) {
    checkGenerationLength(
      o.prompts.map((p) => renderPrompt(tokenizer, p, instruction)),
      o.sampling.maxNewTokens,
      session.config.maxPositions,
    );
  }

  const inputs = {
    model: modelProvenance(o.paths.model, o.paths.adapter),
    sae: {
      path: o.paths.sae,
      format: sae.info.format,
      files: sae.info.files.map((f) => ({ path: f.path, sha256: f.sha256 })),
    },
    prompts: { path: o.paths.prompts, sha256: sha256Text(JSON.stringify(o.prompts)) },
    chat_template_sha256: tokenizer.chatTemplate ? sha256Text(tokenizer.chatTemplate) : null,
  };
  const config = {
    inputs,
    feature_layer: session.layer,
    steer_layer: o.steerLayer,
    clamp_layer: o.clampLayer,
    features: Array.isArray(o.features)
      ? o.features
      : {
          sample: o.features.sample,
          pool_rule: STEERING_POOL_RULE,
          feature_labels: o.features.labels
            ? { path: o.features.labels.path, sha256: sha256Text(JSON.stringify([...o.features.labels.labels])) }
            : null,
          general_text: {
            path: o.features.generalText.path,
            sha256: sha256Text(JSON.stringify(o.features.generalText.texts)),
          },
        },
    trials_per_feature: o.trialsPerFeature,
    seed: o.seed,
    conditions: o.conditions,
    strength: o.strength,
    ablated: { latents: ablated, source: o.latents.source },
    ...conditionSettings(o.conditions, o),
    sampling: o.sampling,
    judge: o.judge.provenance,
  };
  const runKey = claimRunDir(o.out, config);
  o.log(`run directory: ${o.out}`);

  const gen: SteeredGenerator = {
    executor,
    tokenizer,
    stopIds,
    sampling: o.sampling,
    judge: o.judge,
    batchSize: o.batchSize,
  };
  let scan: PromptScan | null = null;
  const rendered = o.prompts.map((p) => renderPrompt(tokenizer, p, null));
  if (o.strength.kind === 'calibrate' && o.strength.range === null) {
    scan = await scanPrompts(executor, sae, o.steerLayer, rendered, o.batchSize);
    o.log(
      `prompts at resid_post.${o.steerLayer}: median residual norm ${scan.medianNorm.toFixed(2)} (scales the calibration range)`,
    );
  }
  let pool: SteeringPool | null = null;
  if (!Array.isArray(o.features)) {
    const { labels, generalText } = o.features;
    const onPrompts =
      session.layer === o.steerLayer && scan
        ? scan
        : await scanPrompts(executor, sae, session.layer, rendered, o.batchSize);
    const general = await scanPrompts(
      executor,
      sae,
      session.layer,
      generalText.texts.map((t) => tokenizer.encode(t).ids),
      o.batchSize,
    );
    pool = steeringPool(sae.dSae, onPrompts.alive, general.alive, ablated, labels?.labels ?? null);
    const c = pool.counts;
    o.log(
      `steering pool at resid_post.${session.layer}: ${c.silent_on_prompts} latents silent on every prompt, ${c.alive_on_general_text} of them alive on ${generalText.path}` +
        `${labels ? `, ${c.labelled} labelled in ${labels.path}` : ''} → ${c.pool} candidates (ablated latents excluded)`,
    );
  }
  if (pool && pool.features.length === 0) {
    const c = pool.counts;
    throw new InputError(
      `the steering pool at resid_post.${session.layer} is empty (${c.silent_on_prompts} latents silent on every prompt, ` +
        `${c.alive_on_general_text} of them alive on the general text${!Array.isArray(o.features) && o.features.labels ? `, ${c.labelled} labelled` : ''}, ` +
        'ablated latents excluded): give --features, another --feature-labels file, or other --prompts / --general-text',
    );
  }
  let sample = Array.isArray(o.features) ? 0 : o.features.sample;
  if (!Array.isArray(o.features) && o.features.sampleIsDefault && pool!.features.length < sample) {
    o.log(
      `note: the steering pool holds ${pool!.features.length} latents, fewer than the default ${sample}: steering along all of them`,
    );
    sample = pool!.features.length;
  }
  const features = Array.isArray(o.features) ? o.features : sampleFeatures(pool!.features, sample, o.seed);
  if (pool) {
    const poolRecord = {
      rule: pool.rule,
      ...pool.counts,
      feature_labels: Array.isArray(o.features) ? null : (o.features.labels?.path ?? null),
      general_text: Array.isArray(o.features) ? null : o.features.generalText.path,
      sampled: features.map((f) => f.latent),
    };
    writeJsonAtomic(join(o.out, 'steering_pool.json'), poolRecord);
  }

  const resources: ConditionResources = {
    ablated,
    clampLayer: o.clampLayer,
    randomSets: [],
    metaPrompt: o.metaPrompt,
    metaPromptPlacement: o.metaPromptPlacement,
  };
  const setup = { ...o, latents: o.latents, features, dSae: sae.dSae, sae };
  for (const c of o.conditions) Object.assign(resources, await condition(c).prepare?.(setup));

  const strengths = new Map<number, Strength[]>();
  const calibrations = new Map<number, Calibration>();
  if (o.strength.kind === 'fixed' || !o.conditions.some((c) => condition(c).steered)) {
    // unsteered conditions alone need no strength: nothing to calibrate
    const boost = o.strength.kind === 'fixed' ? o.strength.boost : 0;
    for (const f of features) strengths.set(f.latent, [{ boost, level: null }]);
  } else {
    const s = o.strength;
    const cacheDir = s.cacheDir ?? join(o.out, 'calibration');
    o.log(
      `calibrating ${features.length} features to a first-attempt score of ${s.target} (${s.steps} bisection steps, ${s.perStep} response${s.perStep > 1 ? 's' : ''} each; cache ${cacheDir})`,
    );
    const bar = progress('calibration steps', s.steps);
    const found = await calibrate(gen, features, {
      prompts: o.prompts,
      steerLayer: o.steerLayer,
      seed: o.seed,
      steps: s.steps,
      perStep: s.perStep,
      cacheDir,
      settingsFor: bisectionSettings(s, (f) => (2 * scan!.medianNorm) / decoderNorm(sae, f.latent)),
      context: { inputs, sampling: o.sampling, judge: o.judge.provenance },
      onStep: () => bar.tick(),
    });
    bar.done();
    for (const [k, v] of found) calibrations.set(k, v);
    const thresholds = features.map((f) => calibrations.get(f.latent)!.threshold);
    const spread = s.sweep ? sd(thresholds) : 0;
    const centre = thresholds.reduce((a, b) => a + b, 0) / thresholds.length;
    const levels = s.sweep ? sweepLevels(s.sweep.k, s.sweep.range) : [null];
    for (const f of features) {
      const thr = calibrations.get(f.latent)!.threshold;
      // relative sweep: around each feature's own threshold; absolute (the paper's): the same boosts around the mean threshold
      const at = s.sweep?.absolute ? centre : thr;
      strengths.set(
        f.latent,
        levels.map((z) => ({ boost: z === null ? thr : Math.max(0, at + z * spread), level: z })),
      );
    }
    o.log(
      `thresholds: median ${thresholds
        .slice()
        .sort((a, b) => a - b)
        [Math.floor(thresholds.length / 2)].toFixed(
          3,
        )}, mean ${centre.toFixed(3)}, spread (sd) ${sd(thresholds).toFixed(3)}`,
    );
    const atBound = features.filter((f) => boundOf(calibrations.get(f.latent)!) !== null);
    if (atBound.length) {
      o.log(
        `warning: ${atBound.length} of ${features.length} calibrated thresholds ended at a bisection bound (${atBound.map((f) => `${f.latent}: ${boundOf(calibrations.get(f.latent)!)}`).join(', ')}): ` +
          'the target score was not bracketed; widen --calibrate-range or check the feature (marked in summary.md)',
      );
    }
  }

  const plan = planTrials({
    features,
    prompts: o.prompts,
    trialsPerFeature: o.trialsPerFeature,
    seed: o.seed,
    conditions: o.conditions,
    strengths,
    steerLayer: o.steerLayer,
    ...resources,
  });
  const store = join(o.out, STORE_FILE);
  repairTornTail(store);
  const done = new Set(existsSync(store) ? readTrials(store).map((t) => t.id) : []);
  const pending = plan.filter((p) => !done.has(p.id));
  o.log(
    `${plan.length} trials planned (${features.length} features × ${o.trialsPerFeature} draws × conditions ${o.conditions.join(', ')}${o.strength.kind === 'calibrate' && o.strength.sweep ? ` × ${o.strength.sweep.k} levels` : ''}); ${plan.length - pending.length} already in ${store}`,
  );

  const base = {
    run: runKey,
    runtime: runtimeProvenance(o.backend),
    ...inputs,
    feature_layer: session.layer,
    steer_layer: o.steerLayer,
    clamp_layer: o.clampLayer,
    sampling: o.sampling,
    base_seed: o.seed,
    ablated_from: o.latents.source,
    judge: o.judge.provenance,
  };
  const bar = progress('trials', pending.length);
  await generateAndJudge(gen, pending, (i, r) => {
    const p = pending[i];
    appendTrial(store, toTrial(p, r, o.judge.wellFormedShare, base, calibrations.get(p.feature)));
    bar.tick();
  });
  bar.done();

  const ids = new Set(plan.map((p) => p.id));
  const trials = readTrials(store).filter((t) => ids.has(t.id));
  const report = metricsOf(trials, o.conditions, o);
  const sweep = o.strength.kind === 'calibrate' ? o.strength.sweep : null;
  const levels = sweep
    ? sweepLevels(sweep.k, sweep.range).map((level) => ({
        level,
        report: metricsOf(
          trials.filter((t) => t.provenance.boost_level === level || !condition(t.condition as Condition).steered),
          o.conditions,
          o,
        ),
      }))
    : null;
  writeJsonAtomic(join(o.out, 'metrics.json'), {
    ...report,
    ...(levels ? { levels } : {}),
    provenance: {
      run: runKey,
      store: STORE_FILE,
      trials: trials.length,
      judge: { ...o.judge.provenance, models_returned: judgeModels(trials) },
      ablated: { latents: ablated, source: o.latents.source },
      ...Object.assign({}, ...o.conditions.map((c) => condition(c).provenance?.(resources))),
      runtime: base.runtime,
      // what identifies a paper configuration in the report (lib/report/paper.ts)
      shape: {
        model: modelShape(session.config),
        sae: { d_in: session.sae.dIn, d_sae: session.sae.dSae, layer: session.layer },
      },
    },
  });
  const result: AblationResult = {
    out: o.out,
    store,
    report,
    levels,
    planned: plan.length,
    alreadyDone: plan.length - pending.length,
    generated: pending.length,
    seconds: (Date.now() - started) / 1000,
  };
  writeFileAtomic(
    join(o.out, 'summary.md'),
    summaryMarkdown({ o, features, resources, calibrations, result, judgeStats: o.judge.stats(), pool, trials }),
  );
  return result;
}
