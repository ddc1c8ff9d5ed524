// analyze ablate's options: a partial config (a notebook's, or the command's flags) resolved through the
// settings table (lib/experiments/settings.ts) — checked, layered (explicit > esr_defaults.json > shipped
// model > defaults), each value with its origin — in two steps: what needs no model (prepareAblation: files
// read, latents located, the judge made; what --dry-run shows), then what the session decides
// (ablationOptions: layers, latents resolved, possibly by a discovery run made first).
import { renderRefs, settingRef as ref } from '../errors.ts';
import { checkPrompts, readGeneralText, readPrompts } from '../io/inputs.ts';
import type { Judge } from '../judge/index.ts';
import { judgeFrom } from '../judge/settings.ts';
import { newRunDir } from '../runs/dirs.ts';
import type { Shard } from '../shards/environment.ts';
import { checkHook, type HookPoint, hookName, parseHook, sameHook } from '../model/hooks.ts';
import { checkSaeAt, type Session } from '../session.ts';
import { samplingOf } from '../settings/sampling.ts';
import { settingSources } from '../settings/sources.ts';
import {
  describeValue,
  fromOrigin,
  type Input,
  required,
  type Resolved,
  resolveSettings,
  type Sources,
  showValue,
  snakeOf,
} from '../settings/table.ts';
import type { MetricsReport } from '../trials/metrics.ts';
import { type Condition, type ConditionOptions, clampsLatents } from './conditions.ts';
import { type Feature, readFeatureLabels, readFeatures } from './features.ts';
import { type LatentSource, locateLatents, type ResolvedLatents, resolveLatents } from './latents.ts';
import { ABLATION_SETTINGS, type AblationSettings } from './settings.ts';
import type { Sampling } from './steered.ts';

export const ABLATE_COMMAND = 'ablate';

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

/** How steering features are sampled: the pool's labels (null: all latents) and general text. */
export interface SampledFeatures {
  sample: number;
  /** The sample size was the default, not asked for: a smaller pool is used whole (with a note) instead of refused. */
  sampleIsDefault: boolean;
  labels: { path: string; labels: Map<number, string> } | null;
  generalText: { path: string; texts: string[] };
}

/** Any of the settings (ABLATION_SETTINGS), and what is not a setting. */
export type AblationConfig = Input<typeof ABLATION_SETTINGS> & {
  /** Where prompts given as a list came from (for provenance). */
  paths?: { prompts?: string | null };
  /** The backend recorded in the outputs; default the session's. */
  backend?: string | null;
  log?: (line: string) => void;
  /** How log lines name settings (default their names; the command line: flags). */
  names?: (setting: string) => string;
  /** Run only this shard of the run (its steering features) into `out`, for `analyze merge` (lib/shards/out.ts names its directory). */
  shard?: Shard | null;
};

/** An ablation's settings resolved and its inputs read: everything known before the model is opened. */
export interface AblationSetup extends ConditionOptions {
  settings: Resolved<typeof ABLATION_SETTINGS>;
  sources: Sources;
  out: string;
  prompts: string[];
  /**
   * Features to steer, or how many to sample from the steering pool (latents silent on every prompt at the
   * SAE's hook point and alive on `generalText`; only those in `labels` when given, each with its label).
   */
  features: Feature[] | SampledFeatures;
  /** Located (a list or a latent set), or the K of a discovery run to make first. */
  located: LatentSource;
  trialsPerFeature: number;
  seed: number;
  conditions: Condition[];
  strength: StrengthOptions;
  sampling: Sampling;
  /**
   * Lower `sampling.maxNewTokens` to what the model's max_position_embeddings leaves after the longest
   * prompt, and say so (when the length was not asked for); false: a length that does not fit is an error.
   */
  fitMaxTokens: boolean;
  batchSize: number;
  judge: Judge;
  /** On resume, judge again the stored trials whose judging failed (their responses kept). */
  rejudgeFailed: boolean;
  metrics: { resamples: number; seed: number };
  /** Input files, as recorded in config.json and every trial (prompts: null when given as a list). */
  paths: { model: string; sae: string; adapter?: string | null; prompts: string | null };
  /** undefined: the session's. */
  backend: string | null | undefined;
  /** Only this shard of the run (its steering features); null: the whole run. */
  shard: Shard | null;
  log: (line: string) => void;
}

/** The options runAblation works from: the setup with the session's layers and the latents resolved. */
export interface AblationOptions extends Omit<AblationSetup, 'backend'> {
  /** Where the steering acts (the paper steers at an earlier layer than it reads). */
  steerHook: HookPoint;
  /** Where the ablation clamps act. */
  clampHook: HookPoint;
  latents: ResolvedLatents;
  backend: string | null;
}

export interface AblationResult {
  out: string;
  store: string;
  /** null for a shard: the metrics are the merged run's (analyze merge). */
  report: MetricsReport | null;
  /** Per sweep level (offset in threshold spreads), when sweeping. */
  levels: { level: number; report: MetricsReport }[] | null;
  planned: number;
  alreadyDone: number;
  generated: number;
  seconds: number;
  /** A sharded sweep's shard that calibrated but found this many other shards' features not calibrated yet. */
  waiting?: number;
}

/** A fixed boost, or calibration with its sweep (a sweep's range: 1 threshold spread, 3 for the paper's absolute sweep). */
export function strengthOf(v: AblationSettings): StrengthOptions {
  if (v.boost !== undefined) return { kind: 'fixed', boost: v.boost };
  const k = v.boostSweep ?? v.boostSweepAbsolute;
  const sweep =
    k === undefined
      ? null
      : v.boostSweepAbsolute !== undefined
        ? { k, range: v.sweepRange ?? 3, absolute: true }
        : { k, range: v.sweepRange ?? 1 };
  return {
    kind: 'calibrate',
    target: v.target,
    steps: v.calibrateSteps,
    perStep: v.calibratePerStep,
    range: v.calibrateRange,
    sweep,
    cacheDir: v.calibrationCache,
  };
}

function sampledFeatures(r: Resolved<typeof ABLATION_SETTINGS>): SampledFeatures {
  const v = r.values;
  const labels =
    v.featureLabels === null ? null : { path: v.featureLabels, labels: readFeatureLabels(v.featureLabels) };
  const generalText = required(
    r,
    'generalText',
    'general text, one passage per line, that steering features must fire in (the shipped general text goes with the shipped model and SAE only)',
  );
  return {
    sample: v.nFeatures,
    sampleIsDefault: r.origins.nFeatures !== 'explicit',
    labels,
    generalText: { path: generalText, texts: readGeneralText(generalText) },
  };
}

/** Says which values came from the SAE's esr_defaults.json and which are the shipped model's. */
function logOrigins(r: Resolved<typeof ABLATION_SETTINGS>, sources: Sources, say: (line: string) => void): void {
  const fromFile = fromOrigin(ABLATION_SETTINGS, r, 'esr_defaults.json');
  if (fromFile.length) say(`defaults for this SAE from ${sources.sae?.file}: ${fromFile.join(', ')}`);
  for (const a of r.setAside)
    say(
      `${a.origin === 'esr_defaults.json' ? `${sources.sae?.file}: ${snakeOf(a.name)}` : `the shipped model's ${ref(a.name)}`} ${showValue(ABLATION_SETTINGS[a.name as keyof typeof ABLATION_SETTINGS], a.value)} set aside: ${ref(a.by)} was given`,
    );
  const shipped = fromOrigin(ABLATION_SETTINGS, r, 'shipped model').filter((l) => !/^‹(prompts|generalText)›/.test(l));
  if (shipped.length)
    say(
      `shipped default (the ESR organism): ${shipped.join(', ')} (other models get the paper's defaults; README "Shipped default"); give them to override`,
    );
}

/**
 * Resolves a config for the model and SAE at `at` (before any of it is opened): settings checked and
 * merged, prompts, features, labels and general text read, the latents located, the judge made.
 */
export function prepareAblation(
  c: AblationConfig,
  at: { model: string; sae: string; adapter?: string | null },
): AblationSetup {
  const { paths: given, backend, log: logTo, names, shard, ...input } = c;
  const log = logTo ?? ((line: string) => console.error(line));
  const say = (line: string) => log(renderRefs(line, names ?? ((n) => n)));
  const sources = settingSources(at);
  const settings = resolveSettings(ABLATION_SETTINGS, input, sources);
  const v = settings.values;
  const judge = judgeFrom(v);
  const promptsIn = required(
    settings,
    'prompts',
    'a prompts file, one prompt per line (the shipped prompts go with the shipped model and SAE only)',
  );
  const promptsFile = typeof promptsIn === 'string' ? promptsIn : (given?.prompts ?? null);
  const prompts = typeof promptsIn === 'string' ? readPrompts(promptsIn) : checkPrompts(promptsIn, 'prompts');
  const paths = { ...at, prompts: promptsFile };
  const located =
    typeof v.latents === 'object'
      ? v.latents
      : locateLatents(v.latents, { otd: v.otd, ...paths }, clampsLatents(v.conditions));
  const features =
    typeof v.features === 'string' ? readFeatures(v.features) : (v.features ?? sampledFeatures(settings));
  logOrigins(settings, sources, say);
  return {
    settings,
    sources,
    out: v.out ?? newRunDir(ABLATE_COMMAND),
    prompts,
    features,
    located,
    trialsPerFeature: v.trialsPerFeature,
    seed: v.seed,
    conditions: v.conditions,
    strength: strengthOf(v),
    randomSets: v.randomSets,
    randomMatch: v.randomMatch,
    metaPrompt: v.metaPrompt,
    metaPromptPlacement: v.metaPromptPlacement,
    sampling: samplingOf(v),
    fitMaxTokens: settings.origins.maxTokens !== 'explicit',
    batchSize: v.batchSize,
    judge,
    rejudgeFailed: v.rejudgeFailed,
    metrics: { resamples: v.resamples, seed: v.seed },
    paths,
    backend,
    shard: shard ?? null,
    log: say,
  };
}

/**
 * The options of a config (or of a setup prepared before the session opened): the layers checked against
 * the model — naming where a value not given came from —, the latents resolved (topK on the shipped default
 * with no discovery run: one made first, see locateLatents).
 */
export async function ablationOptions(
  session: Session,
  c: AblationConfig | AblationSetup = {},
): Promise<AblationOptions> {
  const s = 'settings' in c ? c : prepareAblation(c, session.paths);
  const v = s.settings.values;
  // the value (given, esr_defaults.json, or the fallback) checked against the model and the SAE's width there
  const hookAt = (name: 'steerLayer' | 'clampLayer', fallback: HookPoint): HookPoint => {
    const given = v[name];
    if (given === null) return fallback;
    const what = describeValue(ABLATION_SETTINGS, s.settings, name, s.sources);
    const hook = checkHook(parseHook(String(given), what), session.config, what);
    checkSaeAt(session.sae, hook, session.config);
    return hook;
  };
  const steerHook = hookAt('steerLayer', session.hook);
  const clampHook = hookAt('clampLayer', steerHook);
  if (!sameHook(steerHook, session.hook) || !sameHook(clampHook, steerHook))
    s.log(
      `steering at ${hookName(steerHook)}, clamps at ${hookName(clampHook)}, read-out at ${hookName(session.hook)}`,
    );
  const latents = await resolveLatents(session, s.located, {
    prompts: s.prompts,
    promptsFile: s.paths.prompts,
    log: s.log,
  });
  s.log(`ablating ${latents.latents.length} latents from ${latents.source}`);
  if (latents.notSelected.length)
    s.log(
      `warning: ${latents.notSelected.length} of them did not pass that run's selection rule: ${latents.notSelected.join(', ')}`,
    );
  if (s.judge.provenance.approximation)
    s.log('note: the heuristic judge is an offline lexical APPROXIMATION, not an LLM judgment');
  return {
    ...s,
    steerHook,
    clampHook,
    latents,
    paths: { ...session.paths, prompts: s.paths.prompts },
    backend: s.backend === undefined ? session.backend.description : s.backend,
  };
}
