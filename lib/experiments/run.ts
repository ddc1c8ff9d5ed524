// analyze ablate end to end: features → strengths (fixed or calibrated) → the paired trial plan →
// steered generation and judging into the append-only trial store → metrics.json and summary.md.
// Everything lands in the run directory; rerunning the same command there continues where it stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '../session.ts';
import { withDirLock } from '../runs/lock.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import type { Judge } from '../judge/index.ts';
import { checkGenerationLength } from '../model/generate.ts';
import { progress } from '../progress.ts';
import { sha256Text } from '../io/hash.ts';
import { claimRunDir } from '../runs/claim.ts';
import { modelProvenance, runtimeProvenance } from '../runs/provenance.ts';
import { computeMetrics, type MetricsReport } from '../trials/metrics.ts';
import { appendTrial, readTrials, repairTornTail } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import { DEFAULT_BISECTION, type BisectionSettings } from './bisection.ts';
import { type Calibration, calibrate } from './calibrate.ts';
import { type Feature, sampleFeatures } from './features.ts';
import { checkLatentIndices, type ResolvedLatents } from './latents.ts';
import { type Condition, type PlannedTrial, planTrials, type Strength, sweepLevels } from './plan.ts';
import { type RandomControl, randomControl, type RandomMatch } from './randomSets.ts';
import { openStore } from '../store/reader.ts';
import { decoderNorm, type PromptScan, scanPrompts } from './scan.ts';
import { generateAndJudge, renderPrompt, type Sampling, type SteeredGenerator } from './steered.ts';
import { summaryMarkdown } from './summary.ts';

export type StrengthOptions =
  | { kind: 'fixed'; boost: number }
  | {
    kind: 'calibrate';
    /** Target first-attempt score, 0–100. */
    target: number;
    steps: number;
    perStep: number;
    /** Bisection bounds in boost units; null: [0, 2·‖h‖/‖W_dec[f]‖] with ‖h‖ the median residual norm on the prompts. */
    range: [number, number] | null;
    /** K levels around each threshold, `range` threshold-spreads either side; null: the threshold only. */
    sweep: { k: number; range: number } | null;
    /** Where calibrations are cached; null: `<out>/calibration`. */
    cacheDir: string | null;
  };

export interface AblationOptions {
  out: string;
  prompts: string[];
  /** Features to steer, or how many to sample from the latents alive on the prompts. */
  features: Feature[] | { sample: number };
  trialsPerFeature: number;
  seed: number;
  conditions: Condition[];
  strength: StrengthOptions;
  steerLayer: number;
  clampLayer: number;
  latents: ResolvedLatents;
  randomSets: number;
  /** How the random control's latents are chosen: matched on label-blind activity (default), or uniformly (the paper's). */
  randomMatch?: RandomMatch;
  metaPrompt: string;
  sampling: Sampling;
  batchSize: number;
  judge: Judge;
  metrics: { resamples: number; seed: number };
  paths: { model: string; sae: string; prompts: string };
  backend: string | null;
  log: (line: string) => void;
}

export interface AblationResult {
  out: string;
  store: string;
  report: MetricsReport;
  /** Per sweep level (offset in threshold spreads), when sweeping. */
  levels: { level: number; report: MetricsReport }[] | null;
  planned: number;
  alreadyDone: number;
  generated: number;
  seconds: number;
}

export const STORE_FILE = 'trials.jsonl';

function checkFeatures(features: Feature[], ablated: number[], dSae: number): void {
  checkLatentIndices(features.map((f) => f.latent), dSae, '--features');
  const clash = features.filter((f) => ablated.includes(f.latent)).map((f) => f.latent);
  if (clash.length) throw new InputError(`--features: ${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} also in the ablated set; steer along other latents`);
}

function bisectionSettings(s: Extract<StrengthOptions, { kind: 'calibrate' }>, scale: (f: Feature) => number): (f: Feature) => BisectionSettings {
  return (f) => {
    const [lo, hi] = s.range ?? [0, scale(f)];
    return { lo, hi, priorMean: (lo + hi) / 2, priorSd: (hi - lo) / 4, target: s.target / 100, ...DEFAULT_BISECTION };
  };
}

const sd = (xs: number[]): number => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

function toTrial(p: PlannedTrial, response: string, judge: Trial['judge'], base: Record<string, unknown>, calibration: Calibration | undefined): Trial {
  return {
    id: p.id, feature: p.feature, feature_label: p.featureLabel, prompt: p.prompt, seed: p.seed, condition: p.condition, boost: p.boost,
    interventions: p.interventions, response, judge, error: null,
    provenance: {
      ...base, seed: p.seed, prompt_index: p.promptIndex, system_prompt: p.system, boost_level: p.level, random_set: p.randomSet,
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
  const baseline = conditions.find((c) => present.has(c) && c === 'baseline') ?? conditions.find((c) => present.has(c));
  try {
    return computeMetrics(trials, { cluster: 'feature', resamples: o.metrics.resamples, seed: o.metrics.seed, baseline });
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`metrics: ${err.message}`);
    throw err;
  }
}

/** Runs the ablation into `o.out`, holding its lock (one writer per run directory). */
export async function runAblation(session: Session, o: AblationOptions): Promise<AblationResult> {
  return withDirLock(o.out, `run directory ${o.out}`, () => ablation(session, o));
}

async function ablation(session: Session, o: AblationOptions): Promise<AblationResult> {
  const started = Date.now();
  const { sae, tokenizer, executor } = session;
  const ablated = o.latents.latents;
  checkLatentIndices(ablated, sae.dSae, o.latents.source);
  if (Array.isArray(o.features)) checkFeatures(o.features, ablated, sae.dSae);
  const stopIds = tokenizer.eosIds.length ? tokenizer.eosIds : session.config.eosTokenIds;
  // Fail on a template that cannot take the meta-prompt before any work.
  if (o.conditions.includes('meta-prompt')) renderPrompt(tokenizer, o.prompts[0], o.metaPrompt);
  // Every prompt (with the meta-prompt's system message when that condition runs) plus --max-tokens fits the model.
  const system = o.conditions.includes('meta-prompt') ? o.metaPrompt : null;
  checkGenerationLength(o.prompts.map((p) => renderPrompt(tokenizer, p, system)), o.sampling.maxNewTokens, session.config.maxPositions);

  const inputs = {
    model: modelProvenance(o.paths.model),
    sae: { path: o.paths.sae, format: sae.info.format, files: sae.info.files.map((f) => ({ path: f.path, sha256: f.sha256 })) },
    prompts: { path: o.paths.prompts, sha256: sha256Text(JSON.stringify(o.prompts)) },
    chat_template_sha256: tokenizer.chatTemplate ? sha256Text(tokenizer.chatTemplate) : null,
  };
  const config = {
    inputs, feature_layer: session.layer, steer_layer: o.steerLayer, clamp_layer: o.clampLayer,
    features: o.features, trials_per_feature: o.trialsPerFeature, seed: o.seed, conditions: o.conditions, strength: o.strength,
    ablated: { latents: ablated, source: o.latents.source }, random_sets: o.conditions.includes('random') ? o.randomSets : null,
    random_match: o.conditions.includes('random') ? (o.randomMatch ?? 'activity') : null,
    meta_prompt: o.conditions.includes('meta-prompt') ? o.metaPrompt : null, sampling: o.sampling, judge: o.judge.provenance,
  };
  const runKey = claimRunDir(o.out, config);
  o.log(`run directory: ${o.out}`);

  const gen: SteeredGenerator = { executor, tokenizer, stopIds, sampling: o.sampling, judge: o.judge, batchSize: o.batchSize };
  let scan: PromptScan | null = null;
  const needScan = !Array.isArray(o.features) || (o.strength.kind === 'calibrate' && o.strength.range === null);
  if (needScan) {
    scan = await scanPrompts(executor, sae, o.steerLayer, o.prompts.map((p) => renderPrompt(tokenizer, p, null)), o.batchSize);
    o.log(`prompts at resid_post.${o.steerLayer}: ${scan.alive.length} latents fire, median residual norm ${scan.medianNorm.toFixed(2)}`);
  }
  const features = Array.isArray(o.features) ? o.features : sampleFeatures(scan!.alive, ablated, o.features.sample, o.seed);

  let random: RandomControl | null = null;
  if (o.conditions.includes('random')) {
    random = await randomControl({
      match: o.randomMatch ?? 'activity', runDir: o.latents.runDir, source: o.latents.source, dSae: sae.dSae, ablated, steered: features.map((f) => f.latent), k: o.randomSets, seed: o.seed, openStore,
    });
    writeJsonAtomic(join(o.out, 'random.json'), random);
    o.log(`random control (${random.match}): ${random.sets.length} set${random.sets.length > 1 ? 's' : ''} of ${ablated.length}; ${random.exclusion.detector_like.length} detector-like latents excluded (random.json)`);
  }
  const randomSets = random?.sets ?? [];

  const strengths = new Map<number, Strength[]>();
  const calibrations = new Map<number, Calibration>();
  if (o.strength.kind === 'fixed' || !o.conditions.some((c) => c !== 'no-steer')) {
    // no-steer alone needs no strength: nothing to calibrate
    const boost = o.strength.kind === 'fixed' ? o.strength.boost : 0;
    for (const f of features) strengths.set(f.latent, [{ boost, level: null }]);
  } else {
    const s = o.strength;
    const cacheDir = s.cacheDir ?? join(o.out, 'calibration');
    o.log(`calibrating ${features.length} features to a first-attempt score of ${s.target} (${s.steps} bisection steps, ${s.perStep} response${s.perStep > 1 ? 's' : ''} each; cache ${cacheDir})`);
    const bar = progress('calibration steps', s.steps);
    const found = await calibrate(gen, features, {
      prompts: o.prompts, steerLayer: o.steerLayer, seed: o.seed, steps: s.steps, perStep: s.perStep, cacheDir,
      settingsFor: bisectionSettings(s, (f) => (2 * scan!.medianNorm) / decoderNorm(sae, f.latent)),
      context: { inputs, sampling: o.sampling, judge: o.judge.provenance },
      onStep: () => bar.tick(),
    });
    bar.done();
    for (const [k, v] of found) calibrations.set(k, v);
    const thresholds = features.map((f) => calibrations.get(f.latent)!.threshold);
    const spread = s.sweep ? sd(thresholds) : 0;
    const levels = s.sweep ? sweepLevels(s.sweep.k, s.sweep.range) : [null];
    for (const f of features) {
      const thr = calibrations.get(f.latent)!.threshold;
      strengths.set(f.latent, levels.map((z) => ({ boost: z === null ? thr : Math.max(0, thr + z * spread), level: z })));
    }
    o.log(`thresholds: median ${thresholds.slice().sort((a, b) => a - b)[Math.floor(thresholds.length / 2)].toFixed(3)}, spread (sd) ${sd(thresholds).toFixed(3)}`);
  }

  const plan = planTrials({
    features, prompts: o.prompts, trialsPerFeature: o.trialsPerFeature, seed: o.seed, conditions: o.conditions, strengths,
    steerLayer: o.steerLayer, clampLayer: o.clampLayer, ablated, randomSets, metaPrompt: o.metaPrompt,
  });
  const store = join(o.out, STORE_FILE);
  repairTornTail(store);
  const done = new Set(existsSync(store) ? readTrials(store).map((t) => t.id) : []);
  const pending = plan.filter((p) => !done.has(p.id));
  o.log(`${plan.length} trials planned (${features.length} features × ${o.trialsPerFeature} draws × conditions ${o.conditions.join(', ')}${o.strength.kind === 'calibrate' && o.strength.sweep ? ` × ${o.strength.sweep.k} levels` : ''}); ${plan.length - pending.length} already in ${store}`);

  const base = {
    run: runKey, runtime: runtimeProvenance(o.backend), ...inputs, feature_layer: session.layer, steer_layer: o.steerLayer, clamp_layer: o.clampLayer,
    sampling: o.sampling, base_seed: o.seed, ablated_from: o.latents.source, judge: o.judge.provenance,
  };
  const bar = progress('trials', pending.length);
  await generateAndJudge(gen, pending, (i, r) => {
    const p = pending[i];
    appendTrial(store, toTrial(p, r.response, r.judge, base, calibrations.get(p.feature)));
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
      report: metricsOf(trials.filter((t) => t.provenance.boost_level === level || t.condition === 'no-steer'), o.conditions, o),
    }))
    : null;
  writeJsonAtomic(join(o.out, 'metrics.json'), {
    ...report,
    ...(levels ? { levels } : {}),
    provenance: { run: runKey, store: STORE_FILE, trials: trials.length, judge: { ...o.judge.provenance, models_returned: judgeModels(trials) }, ablated: { latents: ablated, source: o.latents.source }, ...(random ? { random: { match: random.match, rule: random.rule, exclusion: random.exclusion, sets: random.sets } } : {}), runtime: base.runtime },
  });
  const result: AblationResult = {
    out: o.out, store, report, levels, planned: plan.length, alreadyDone: plan.length - pending.length, generated: pending.length, seconds: (Date.now() - started) / 1000,
  };
  writeFileAtomic(join(o.out, 'summary.md'), summaryMarkdown({ o, features, random, calibrations, result, judgeStats: o.judge.stats() }));
  return result;
}
