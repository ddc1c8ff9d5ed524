// analyze ablate's settings in one place: the defaults, the policies that fill a partial config in (which
// latents to ablate, the layers, the judge), and the options runAblation works from. A resolved
// AblationOptions is itself a valid config.
import { readGeneralText, readPrompts } from '../io/inputs.ts';
import { createJudge, defaultJudgeSpec, type Judge } from '../judge/index.ts';
import { newRunDir } from '../runs/dirs.ts';
import { checkLayer, type Session } from '../session.ts';
import { isShippedDefault, SHIPPED } from '../settings/shipped.ts';
import { checkResamples } from '../stats/bootstrap.ts';
import { checkInterventionValue } from '../steering/interventions.ts';
import type { MetricsReport } from '../trials/metrics.ts';
import { type Feature, readFeatureLabels, readFeatures } from './features.ts';
import { readRunDefaults, type RunDefaults } from './runDefaults.ts';
import { type LatentSource, locateLatents, type ResolvedLatents, resolveLatents } from './latents.ts';
import { type Condition, type ConditionOptions, clampsLatents } from './conditions.ts';
import type { RandomMatch } from './randomSets.ts';
import type { MetaPromptPlacement, Sampling } from './steered.ts';

export const ABLATE_COMMAND = 'ablate';

export const DEFAULT_META_PROMPT =
  "While you answer, keep checking that what you write still answers the user's question. If you notice that you have drifted " +
  'off topic, say so plainly and go back to answering the question.';

export interface CalibrateStrength {
  kind: 'calibrate';
  /** Target first-attempt score, 0–100. */
  target: number;
  steps: number;
  perStep: number;
  /** Bisection bounds in boost units; null: [0, 2·‖h‖/‖W_dec[f]‖] with ‖h‖ the median residual norm on the prompts. */
  range: [number, number] | null;
  /**
   * K strength levels z evenly spaced in [−range, +range]; null: the threshold only. Relative (default):
   * each feature at its threshold + z·sd(thresholds). Absolute (the paper's sweep): every feature at the
   * same boosts mean(thresholds) + z·sd(thresholds).
   */
  sweep: { k: number; range: number; absolute?: boolean } | null;
  /** Where calibrations are cached; null: `<out>/calibration`. */
  cacheDir: string | null;
}

export type StrengthOptions = { kind: 'fixed'; boost: number } | CalibrateStrength;

export interface AblationOptions extends ConditionOptions {
  out: string;
  prompts: string[];
  /**
   * Features to steer, or how many to sample from the steering pool (latents silent on every prompt at the
   * feature layer and alive on `generalText`; only those in `labels` when given, each with its label).
   */
  features: Feature[] | SampledFeatures;
  trialsPerFeature: number;
  seed: number;
  conditions: Condition[];
  strength: StrengthOptions;
  steerLayer: number;
  clampLayer: number;
  latents: ResolvedLatents;
  sampling: Sampling;
  /**
   * Lower `sampling.maxNewTokens` to what the model's max_position_embeddings leaves after the longest
   * prompt, and say so (when the length is the default, not asked for); false: a length that does not fit is an error.
   */
  fitMaxTokens: boolean;
  batchSize: number;
  judge: Judge;
  metrics: { resamples: number; seed: number };
  /** Input files, as recorded in config.json and every trial (prompts: null when given as a list). */
  paths: { model: string; sae: string; adapter?: string | null; prompts: string | null };
  backend: string | null;
  log: (line: string) => void;
}

/** How steering features are sampled: the pool's labels (null: all latents) and general text. */
export interface SampledFeatures {
  sample: number;
  /** The sample size was the default, not asked for: a smaller pool is used whole (with a note) instead of refused. */
  sampleIsDefault: boolean;
  labels: { path: string; labels: Map<number, string> } | null;
  generalText: { path: string; texts: string[] };
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

/** The defaults of `analyze ablate` (the metrics' bootstrap seed follows `seed`; the layers follow the session's feature layer). */
export const ABLATION_DEFAULTS = {
  latents: 'top26',
  features: { sample: 20 },
  trialsPerFeature: 5,
  seed: 0,
  conditions: ['baseline', 'ablate'] as Condition[],
  /** 5 judged responses per bisection step, as the paper did for its 70B model. */
  strength: {
    kind: 'calibrate',
    target: 30,
    steps: 10,
    perStep: 5,
    range: null,
    sweep: null,
    cacheDir: null,
  } as CalibrateStrength,
  /** Threshold spreads either side of a sweep, when a sweep gives no range: around each threshold, and absolute (the paper's mean ± 3 sd). */
  sweepRange: 1,
  sweepRangeAbsolute: 3,
  randomSets: 1,
  randomMatch: 'activity' as RandomMatch,
  metaPrompt: DEFAULT_META_PROMPT,
  /** The meta-prompt in the user's turn, as in the paper (Gemma's template has no system role). */
  metaPromptPlacement: 'user' as MetaPromptPlacement,
  /** The paper's sampling: up to 512 new tokens (generation stops at EOS), temperature 0.6, repetition penalty 1.1. */
  sampling: { maxNewTokens: 512, temperature: 0.6, topK: 0, topP: 1, repetitionPenalty: 1.1 } as Sampling,
  batchSize: 8,
  resamples: 10_000,
} as const;

/**
 * On the shipped model and SAE (the ESR organism) only, where not given: 96 new tokens and 1 judged response
 * per bisection step. Its answers are short (median ~45 words) but steered ones can loop to the length limit, and a
 * batch runs as long as its longest row, so the paper's 512 tokens × 5 responses per step multiply the
 * out-of-the-box run's work by about 8 (measured); real models get the paper's defaults.
 */
export const SHIPPED_OVERRIDES = { maxNewTokens: 96, perStep: 1 } as const;

export type AblationConfig = Partial<
  Omit<AblationOptions, 'prompts' | 'features' | 'latents' | 'strength' | 'sampling' | 'metrics' | 'paths'>
> & {
  /** A prompts file (one prompt per line) or the prompts; default the shipped data/prompts.txt. */
  prompts?: string | string[];
  /**
   * A features file, the features, or how many to sample (default 20) from the steering pool, restricted to
   * the latents of a labels file (default: the SAE's esr_defaults.json, if any) and alive on a general-text
   * file (default data/corpus/general.txt).
   */
  features?: string | Feature[] | { sample?: number; labels?: string | null; generalText?: string };
  /** `--latents` text (top26 — the default —, topK, FILE:topK, 12,40,7), or latents already located or resolved. */
  latents?: string | LatentSource;
  /** The latent set topK reads (our latents.json or the paper's off_topic_detectors.json); default the latest discovery run. */
  otd?: string | null;
  /** A fixed boost, or calibration (the default) with any of its settings; a sweep's range defaults to 1. */
  strength?:
    | { kind: 'fixed'; boost: number }
    | ({ kind: 'calibrate' } & Partial<Omit<CalibrateStrength, 'sweep'>> & {
          sweep?: { k: number; range?: number; absolute?: boolean } | null;
        });
  /** Default: true when `sampling.maxNewTokens` is not given. */
  fitMaxTokens?: boolean;
  sampling?: Partial<Sampling>;
  metrics?: Partial<AblationOptions['metrics']>;
  /** Where prompts given as a list came from (for provenance). */
  paths?: Partial<AblationOptions['paths']>;
};

/** The entries of `o` that are not undefined (so a spread over defaults keeps them where a flag was not given). */
const given = <T extends object>(o: T | undefined): Partial<T> =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

function strengthOf(s: AblationConfig['strength'], shipped: boolean): StrengthOptions {
  if (s?.kind === 'fixed') return { ...s, boost: checkInterventionValue(s.boost, 'strength.boost (--boost)') };
  const d = shipped
    ? { ...ABLATION_DEFAULTS.strength, perStep: SHIPPED_OVERRIDES.perStep }
    : ABLATION_DEFAULTS.strength;
  const sweep = s?.sweep
    ? s.sweep.absolute
      ? { k: s.sweep.k, range: s.sweep.range ?? ABLATION_DEFAULTS.sweepRangeAbsolute, absolute: true }
      : { k: s.sweep.k, range: s.sweep.range ?? ABLATION_DEFAULTS.sweepRange }
    : null;
  if (s?.range) checkInterventionValue(s.range[1], 'strength.range (--calibrate-range) HI');
  return { ...d, ...given(s), kind: 'calibrate', sweep };
}

function sampledFeatures(
  f: { sample?: number; labels?: string | null; generalText?: string },
  defaults: RunDefaults | null,
): SampledFeatures {
  const labels = f.labels === undefined ? (defaults?.featureLabels ?? null) : f.labels;
  const generalText = f.generalText ?? SHIPPED.generalText;
  return {
    sample: f.sample ?? ABLATION_DEFAULTS.features.sample,
    sampleIsDefault: f.sample === undefined,
    labels: labels === null ? null : { path: labels, labels: readFeatureLabels(labels) },
    generalText: { path: generalText, texts: readGeneralText(generalText) },
  };
}

/**
 * Fills a config in from the defaults and the session: prompts and features files are read, the latents
 * located and resolved — `topK` from the latest discovery run for this SAE, or, on the shipped default
 * with no such run, from a discovery run made first (see locateLatents) —, the layers checked.
 */
export async function ablationOptions(session: Session, c: AblationConfig = {}): Promise<AblationOptions> {
  const d = ABLATION_DEFAULTS;
  const log = c.log ?? ((line: string) => console.error(line));
  // checked first: the bootstrap runs only once every trial is done
  if (c.metrics?.resamples !== undefined) checkResamples(c.metrics.resamples, 'metrics.resamples (--resamples)');
  const promptsFile =
    typeof c.prompts === 'string' ? c.prompts : c.prompts ? (c.paths?.prompts ?? null) : SHIPPED.prompts;
  const prompts = Array.isArray(c.prompts) ? c.prompts : readPrompts(promptsFile!);
  const paths = { ...session.paths, prompts: promptsFile };
  const defaults = readRunDefaults(session.paths.sae);
  if (defaults)
    log(
      `defaults for this SAE from ${defaults.source}: steering layer ${defaults.steerLayer ?? '-'}, clamp layer ${defaults.clampLayer ?? '-'}, labels ${defaults.featureLabels ?? '-'}`,
    );
  const steerLayer = c.steerLayer ?? defaults?.steerLayer ?? session.layer;
  checkLayer(steerLayer, session.config, `‹steerLayer› ${steerLayer}`);
  const clampLayer = c.clampLayer ?? defaults?.clampLayer ?? steerLayer;
  checkLayer(clampLayer, session.config, `‹clampLayer› ${clampLayer}`);
  const located =
    typeof c.latents === 'object'
      ? c.latents
      : locateLatents(
          c.latents ?? d.latents,
          { otd: c.otd ?? null, ...paths },
          clampsLatents(c.conditions ?? d.conditions),
        );
  const latents = await resolveLatents(session, located, { prompts, promptsFile, log });
  log(`ablating ${latents.latents.length} latents from ${latents.source}`);
  if (latents.notSelected.length)
    log(
      `warning: ${latents.notSelected.length} of them did not pass that run's selection rule: ${latents.notSelected.join(', ')}`,
    );
  const judge = c.judge ?? createJudge(defaultJudgeSpec());
  if (judge.provenance.approximation)
    log('note: the heuristic judge is an offline lexical APPROXIMATION, not an LLM judgment');
  const seed = c.seed ?? d.seed;
  const shipped = isShippedDefault(session.paths);
  const strength = strengthOf(c.strength, shipped);
  const sampling = {
    ...d.sampling,
    ...(shipped ? { maxNewTokens: SHIPPED_OVERRIDES.maxNewTokens } : {}),
    ...given(c.sampling),
  };
  if (shipped) {
    const kept = [
      c.sampling?.maxNewTokens === undefined ? `--max-tokens ${sampling.maxNewTokens}` : null,
      strength.kind === 'calibrate' &&
      c.strength?.kind !== 'fixed' &&
      (c.strength as { perStep?: number } | undefined)?.perStep === undefined
        ? `--calibrate-per-step ${strength.perStep}`
        : null,
    ].filter(Boolean);
    if (kept.length)
      log(
        `shipped default (the ESR organism): ${kept.join(', ')} (other models get the paper's --max-tokens ${d.sampling.maxNewTokens} and --calibrate-per-step ${d.strength.perStep}; README "Shipped default"); give the flags to override`,
      );
  }
  return {
    out: c.out ?? newRunDir(ABLATE_COMMAND),
    prompts,
    features:
      typeof c.features === 'string'
        ? readFeatures(c.features)
        : Array.isArray(c.features)
          ? c.features
          : sampledFeatures(c.features ?? {}, defaults),
    trialsPerFeature: c.trialsPerFeature ?? d.trialsPerFeature,
    seed,
    conditions: c.conditions ?? [...d.conditions],
    strength,
    steerLayer,
    clampLayer,
    latents,
    randomSets: c.randomSets ?? d.randomSets,
    randomMatch: c.randomMatch ?? d.randomMatch,
    metaPrompt: c.metaPrompt ?? d.metaPrompt,
    metaPromptPlacement: c.metaPromptPlacement ?? d.metaPromptPlacement,
    sampling,
    fitMaxTokens: c.fitMaxTokens ?? c.sampling?.maxNewTokens === undefined,
    batchSize: c.batchSize ?? d.batchSize,
    judge,
    metrics: { resamples: d.resamples, seed, ...given(c.metrics) },
    paths,
    backend: c.backend === undefined ? session.backend.description : c.backend,
    log,
  };
}
